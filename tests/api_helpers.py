"""Helpers for the REST API tests: a workspace with users and tokens on a real server."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import icalendar
import requests

from tests.conftest import PASSWORD, Server


def cli_json(server: Server, *args: str) -> dict:
    result = server.cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def make_token(server: Server, user: str, workspace: str, scopes: str, *extra: str) -> str:
    return cli_json(server, "token", "create", "--user", user, "--workspace", workspace,
                    "--scopes", scopes, *extra)["token"]


def two_workspaces(server: Server, other_name: str) -> tuple[str, str]:
    """Users alice, bob and mallory on ``server``; workspace "Acme" of alice's with bob as a
    member, and ``other_name`` of mallory's. Returns their UUIDs."""
    for user in ("alice", "bob", "mallory"):
        server.add_user(user)
    ws_a = cli_json(server, "workspace", "create", "Acme", "--owner", "alice")["uuid"]
    ws_b = cli_json(server, "workspace", "create", other_name, "--owner", "mallory")["uuid"]
    cli_json(server, "workspace", "add-member", ws_a, "bob")
    return ws_a, ws_b


@dataclass
class Api:
    """A Bearer-token client for one workspace."""

    server: Server
    workspace: str
    token: str
    session: requests.Session = field(default_factory=requests.Session)

    def url(self, path: str) -> str:
        if path.startswith("/api/"):
            return self.server.url + path
        return f"{self.server.url}/api/v2/w/{self.workspace}{path}"

    def request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return self.session.request(method, self.url(path), headers=headers, **kwargs)  # type: ignore[arg-type]

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def with_token(self, token: str) -> Api:
        return Api(self.server, self.workspace, token)


def assert_problem(response: requests.Response, status: int, code: str,
                   field_name: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code and body["status"] == status and body["message"] == body["detail"]
    if field_name is not None:
        assert field_name in {e["field"] for e in body.get("errors", [])}, body
    return body


@dataclass
class WorkspaceClients:
    """A workspace of alice's on a real server, seen through tokens of several scopes."""

    server: Server
    admin: Api       # alice: calendars:admin, workspace admin
    reader: Api      # alice: calendars:read
    writer: Api      # alice: read + write
    stranger: Api    # mallory, another workspace, addressing alice's workspace

    @classmethod
    def create(cls, server: Server, name: str) -> WorkspaceClients:
        """A new workspace ``name`` owned by alice, and one of mallory's elsewhere (the server
        has users alice and mallory)."""
        ws = cli_json(server, "workspace", "create", name, "--owner", "alice")["uuid"]
        other = cli_json(server, "workspace", "create", f"{name} elsewhere", "--owner",
                         "mallory")["uuid"]
        return cls(
            server=server,
            admin=Api(server, ws, make_token(server, "alice", ws, "calendars:admin")),
            reader=Api(server, ws, make_token(server, "alice", ws, "calendars:read")),
            writer=Api(server, ws, make_token(server, "alice", ws,
                                              "calendars:read,calendars:write")),
            stranger=Api(server, ws, make_token(server, "mallory", other, "calendars:admin")),
        )


EVENTS = "/api/access/calendar/events"


def seed_calendar(api: Api, calendar: dict, password: str) -> list[str]:
    """Fill ``calendar`` (alice's, seen through ``api``) with what real calendars hold: single
    and all-day events, an open-ended daily series, a weekly series with an EXDATE and a moved
    instance (written over CalDAV, as clients do), attendees, a recurring REST event and a
    to-do. Returns the REST event ids."""
    from tests import caldav_data as data

    url = calendar["caldavUrl"]
    texts = {"weekly-override": data.weekly_with_exdate_and_override("seed-weekly"),
             "daily": data.open_ended_daily("seed-daily"),
             "all-day": data.yearly_all_day("seed-all-day"),
             "todo": data.todo("seed-todo", "20261220T120000Z")}
    for name, text in texts.items():
        response = requests.put(f"{url}{name}.ics", data=text.encode(), auth=("alice", password),
                                headers={"Content-Type": "text/calendar; charset=utf-8"})
        assert response.status_code == 201, response.text
    today = dt.datetime.now(dt.UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    bodies = [
        {"summary": "Planning", "attendees": ["bob@example.com", "carol@example.net"]},
        {"summary": "Standup", "recurrence": ["RRULE:FREQ=DAILY;COUNT=30"],
         "timeZone": "Europe/Berlin", "attendees": ["bob@example.com"]},
        {"summary": "Offsite", "isAllDay": True, "description": "All day, all hands"},
    ]
    ids = []
    for day, body in enumerate(bodies, 1):
        start = today + dt.timedelta(days=day)
        response = api.post(EVENTS, json={
            "calendarId": calendar["id"], "from": start.isoformat().replace("+00:00", "Z"),
            "to": (start + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z"), **body})
        assert response.status_code == 201, response.text
        ids.append(response.json()["event"]["id"])
    return ids


def caldav_expand(calendar_url: str, start: str, end: str, user: str = "alice"
                  ) -> list[icalendar.Event]:
    """The VEVENTs a CalDAV calendar-query with ``C:expand`` answers for [start, end), as a
    calendar app sees them (``start``/``end`` in the RFC's UTC basic form)."""
    body = ('<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data>'
            f'<C:expand start="{start}" end="{end}"/></C:calendar-data></D:prop><C:filter>'
            '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
            f'<C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter>'
            "</C:filter></C:calendar-query>")
    answer = requests.request("REPORT", calendar_url, data=body.encode(), timeout=30,
                              auth=(user, PASSWORD),
                              headers={"Depth": "1", "Content-Type": "application/xml"})
    assert answer.status_code == 207, answer.text
    events: list[icalendar.Event] = []
    for chunk in answer.text.split("BEGIN:VCALENDAR")[1:]:
        cal = icalendar.Calendar.from_ical("BEGIN:VCALENDAR" + chunk.split("</")[0]
                                           .replace("&#13;", "\r"))
        events += cal.walk("VEVENT")
    return events
