"""Everything a token carries holds on CalDAV as on REST, and nothing outside its reach can be
destroyed by any CalDAV method.

Three tables:
- operations: tokens allowed some of seed 004's operations try every kind of change on both
  doors; each door allows exactly what the token names, and a refused change leaves the object
  as it was;
- timeframe and visible fields: such tokens work on REST and are refused at CalDAV login with
  the reason (docs/architecture.md: CalDAV clients sync whole objects and calendars);
- destruction: every CalDAV method (PUT, DELETE, MKCALENDAR, MKCOL, PROPPATCH, MOVE, COPY) on
  the root, homes, calendars and objects outside a credential's reach is refused, and the store
  is unchanged afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests
import sqlalchemy as sa

from tests.api_helpers import cli_json, make_token, two_workspaces
from tests.conftest import PASSWORD, QUIET_AUTH, Server, store_env

EVENTS = "/api/access/calendar/events"
DAY = "20261203"
OBJECT = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
          "DTSTAMP:20260101T000000Z\r\nDTSTART:{day}T100000Z\r\nDTEND:{day}T110000Z\r\n"
          "SUMMARY:Planning\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n")
INVITED = ("ORGANIZER:mailto:alice@example.com\r\n"
           "ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com\r\n"
           "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com\r\n")


@dataclass
class World:
    server: Server
    ws_a: str
    ws_b: str
    calendars: dict[str, dict]      # name -> CalendarResponse
    tokens: dict[str, str]          # name -> bob's token

    def url(self, calendar: str) -> str:
        return str(self.calendars[calendar]["caldavUrl"])

    def dav(self, method: str, url: str, secret: str, **kwargs: object) -> requests.Response:
        target = url if url.startswith("http") else self.server.url + url
        return requests.request(method, target, auth=("bob", secret), timeout=30,
                                **kwargs)  # type: ignore[arg-type]

    def rest(self, method: str, path: str, secret: str, **kwargs: object) -> requests.Response:
        return requests.request(method, self.server.url + path, timeout=30,
                                headers={"Authorization": f"Bearer {secret}"},
                                **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
          backend: str) -> Iterator[World]:
    server = Server(tmp_path_factory.mktemp(f"policy-{backend}"),
                    extra_env={**QUIET_AUTH, **store_env(request, backend)})
    server.start()
    ws_a, ws_b = two_workspaces(server, "Side")
    cli_json(server, "workspace", "add-member", ws_b, "bob")
    setup = {"bobA": make_token(server, "bob", ws_a, "calendars:admin"),
             "bobB": make_token(server, "bob", ws_b, "calendars:admin"),
             "alice": make_token(server, "alice", ws_a, "calendars:admin")}

    def calendar(token: str, workspace: str, name: str) -> dict:
        answer = requests.post(f"{server.url}/api/v2/w/{workspace}/calendars", json={
            "name": name}, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert answer.status_code == 201, answer.text
        return answer.json()

    calendars = {"A1": calendar(setup["bobA"], ws_a, "Bob A1"),
                 "A2": calendar(setup["bobA"], ws_a, "Bob A2"),
                 "B": calendar(setup["bobB"], ws_b, "Bob B"),
                 "alice": calendar(setup["alice"], ws_a, "Alice")}

    def bob(scopes: str, *extra: str, workspace: str = ws_a) -> str:
        return make_token(server, "bob", workspace, scopes, *extra)

    tokens = {
        "one calendar": bob("calendars:read,calendars:write", "--calendars",
                            str(calendars["A1"]["id"])),
        "write": bob("calendars:read,calendars:write"),
        "admin": bob("calendars:admin"),
        "other workspace": bob("calendars:admin", workspace=ws_b),
        "password": PASSWORD,
    }
    world = World(server, ws_a, ws_b, calendars, tokens)
    for name in ("A1", "A2", "B", "alice"):  # an object in every calendar
        secret = PASSWORD if name != "alice" else None
        auth = ("bob", PASSWORD) if secret else ("alice", PASSWORD)
        answer = requests.put(f"{world.url(name)}kept.ics", auth=auth, timeout=30,
                              data=OBJECT.format(uid=f"kept-{name}", day=DAY, extra=""))
        assert answer.status_code == 201, answer.text
    yield world
    server.stop()


def put_object(world: World, calendar: str, extra: str = "") -> tuple[str, str]:
    """A new object in ``calendar`` written with bob's password: (its URL, its text)."""
    uid = uuid.uuid4().hex
    text = OBJECT.format(uid=uid, day=DAY, extra=extra)
    url = f"{world.url(calendar)}{uid}.ics"
    answer = world.dav("PUT", url, PASSWORD, data=text)
    assert answer.status_code == 201, answer.text
    return url, world.dav("GET", url, PASSWORD).text


def event_id(world: World, uid: str) -> str:
    listed = world.rest("GET", f"{EVENTS}?calendarId={world.calendars['A1']['id']}"
                        "&from=2026-12-03T00:00:00Z&to=2026-12-04T00:00:00Z&limit=1000",
                        world.tokens["admin"])
    assert listed.status_code == 200, listed.text
    return next(e["id"] for e in listed.json()["events"] if e["iCalUID"] == uid)


# -- operations ------------------------------------------------------------------------------

# action -> (operation it needs, REST request, CalDAV rewrite of the stored text)
Rewrite = Callable[[str], str]
ACTIONS: dict[str, tuple[str, dict, Rewrite | None]] = {
    "create": ("create_events", {}, None),
    "edit title": ("edit_title", {"summary": "Renamed"},
                   lambda t: t.replace("SUMMARY:Planning", "SUMMARY:Renamed")),
    "edit times": ("edit_times", {"from": "2026-12-03T12:00:00Z", "to": "2026-12-03T13:00:00Z"},
                   lambda t: t.replace("T100000Z", "T120000Z").replace("T110000Z", "T130000Z")),
    "edit description": ("edit_description", {"description": "Agenda"},
                         lambda t: t.replace("SUMMARY:", "DESCRIPTION:Agenda\r\nSUMMARY:")),
    "edit location": ("edit_location", {"location": "Room 4"},
                      lambda t: t.replace("SUMMARY:", "LOCATION:Room 4\r\nSUMMARY:")),
    "add attendee": ("edit_attendees", {"addAttendees": ["carol@example.com"]},
                     lambda t: t.replace("SUMMARY:", "ATTENDEE:mailto:carol@example.com\r\n"
                                         "SUMMARY:")),
    "respond": ("respond_to_event", {"status": "accepted"},
                lambda t: t.replace("PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED")),
    "change an alarm": ("*", {}, lambda t: t.replace(
        "END:VEVENT", "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\n"
        "TRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT")),
    "delete": ("delete_events", {}, None),
}
TOKEN_OPERATIONS = {
    "create only": "create_events",
    "delete only": "delete_events",
    "respond and title": "respond_to_event,edit_title",
    "times only": "edit_times",
    "description and location": "edit_description,edit_location",
    "attendees only": "edit_attendees",
    "every edit": "edit_title,edit_description,edit_location,edit_times,edit_attendees",
}
OPERATION_CELLS = [(t, a) for t in TOKEN_OPERATIONS for a in ACTIONS]
EDITS = {"edit_title", "edit_description", "edit_location", "edit_times", "edit_attendees"}


def allowed(operations: str, needed: str) -> bool:
    granted = set(operations.split(","))
    return EDITS <= granted if needed == "*" else needed in granted


@pytest.fixture(scope="module")
def operation_tokens(world: World) -> dict[str, str]:
    return {name: make_token(world.server, "bob", world.ws_a, "calendars:read,calendars:write",
                             "--operations", ops) for name, ops in TOKEN_OPERATIONS.items()}


def caldav_attempt(world: World, secret: str, action: str) -> tuple[int, bool]:
    """Try ``action`` over CalDAV: (status, whether the store changed)."""
    needed, _, rewrite = ACTIONS[action]
    if action == "create":
        uid = uuid.uuid4().hex
        url = f"{world.url('A1')}{uid}.ics"
        answer = world.dav("PUT", url, secret, data=OBJECT.format(uid=uid, day=DAY, extra=""))
        return answer.status_code, world.dav("GET", url, PASSWORD).status_code == 200
    url, before = put_object(world, "A1", INVITED if action == "respond" else "")
    if action == "delete":
        answer = world.dav("DELETE", url, secret)
    else:
        assert rewrite is not None
        answer = world.dav("PUT", url, secret, data=rewrite(before))
    return answer.status_code, world.dav("GET", url, PASSWORD).text != before


def rest_attempt(world: World, secret: str, action: str) -> tuple[int, bool]:
    """Try ``action`` over REST: (status, whether the store changed)."""
    _, body, _ = ACTIONS[action]
    if action == "create":
        answer = world.rest("POST", EVENTS, secret, json={
            "calendarId": world.calendars["A1"]["id"], "summary": "New",
            "from": "2026-12-03T15:00:00Z", "to": "2026-12-03T16:00:00Z"})
        return answer.status_code, answer.status_code == 201
    url, before = put_object(world, "A1", INVITED if action == "respond" else "")
    identifier = event_id(world, before.split("UID:", 1)[1].split("\r\n", 1)[0])
    if action == "delete":
        answer = world.rest("DELETE", f"{EVENTS}/{identifier}", secret)
    elif action == "respond":
        answer = world.rest("POST", f"{EVENTS}/{identifier}/respond", secret, json=body)
    else:
        answer = world.rest("PATCH", f"{EVENTS}/{identifier}", secret, json=body)
    return answer.status_code, world.dav("GET", url, PASSWORD).text != before


@pytest.mark.parametrize(("token_name", "action"), OPERATION_CELLS)
def test_caldav_allows_exactly_the_operations_the_token_names(
        world: World, operation_tokens: dict[str, str], token_name: str, action: str) -> None:
    status, changed = caldav_attempt(world, operation_tokens[token_name], action)
    if allowed(TOKEN_OPERATIONS[token_name], ACTIONS[action][0]):
        assert status in (200, 201, 204) and changed
    else:
        assert status == 403 and not changed


@pytest.mark.parametrize(("token_name", "action"),
                         [c for c in OPERATION_CELLS if c[1] != "change an alarm"])
def test_rest_and_caldav_agree_on_every_operation(
        world: World, operation_tokens: dict[str, str], token_name: str, action: str) -> None:
    status, changed = rest_attempt(world, operation_tokens[token_name], action)
    if allowed(TOKEN_OPERATIONS[token_name], ACTIONS[action][0]):
        assert status in (200, 201, 204) and changed, status
    else:
        assert status == 403 and not changed


def test_a_client_rewriting_bookkeeping_needs_no_operation(
        world: World, operation_tokens: dict[str, str]) -> None:
    url, before = put_object(world, "A1", INVITED)
    answered = before.replace("PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED").replace(
        "DTSTAMP:20260101T000000Z", "DTSTAMP:20261202T101010Z\r\nSEQUENCE:0\r\n"
        "X-MOZ-GENERATION:2")
    answer = world.dav("PUT", url, operation_tokens["respond and title"], data=answered)
    assert answer.status_code == 204
    moved = answered.replace("DTSTART:20261203T100000Z", "DTSTART;TZID=UTC:20261203T100000")
    assert world.dav("PUT", url, operation_tokens["respond and title"], data=moved
                     ).status_code in (204, 403)  # the same instant: never a 5xx


def test_moving_one_instance_of_a_series_needs_edit_times(
        world: World, operation_tokens: dict[str, str]) -> None:
    url, before = put_object(world, "A1", "RRULE:FREQ=DAILY;COUNT=5\r\n")
    override = ("BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
                "RECURRENCE-ID:20261204T100000Z\r\nDTSTART:20261204T{start}00Z\r\n"
                "DTEND:20261204T{end}00Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\n")
    uid = before.split("UID:", 1)[1].split("\r\n", 1)[0]

    def with_override(start: str, end: str, summary: str) -> str:
        return before.replace("END:VCALENDAR", override.format(
            uid=uid, start=start, end=end, summary=summary) + "END:VCALENDAR")

    renamed = with_override("1000", "1100", "Only this one")
    moved = with_override("1400", "1500", "Planning")
    assert world.dav("PUT", url, operation_tokens["times only"], data=renamed
                     ).status_code == 403
    assert world.dav("PUT", url, operation_tokens["respond and title"], data=moved
                     ).status_code == 403
    assert world.dav("GET", url, PASSWORD).text == before
    assert world.dav("PUT", url, operation_tokens["times only"], data=moved
                     ).status_code == 204


# -- timeframe and visible fields ------------------------------------------------------------

@pytest.mark.parametrize("extra", [("--past-days", "1", "--future-days", "7"),
                                   ("--future-days", "7"),
                                   ("--visible-fields", "title,times")])
def test_tokens_caldav_cannot_honour_are_refused_there_with_the_reason(
        world: World, extra: tuple[str, ...]) -> None:
    secret = make_token(world.server, "bob", world.ws_a, "calendars:admin", *extra)
    for method, url, body in (("PROPFIND", world.url("A1"), None),
                              ("GET", f"{world.url('A1')}kept.ics", None),
                              ("PUT", f"{world.url('A1')}{uuid.uuid4().hex}.ics",
                               OBJECT.format(uid=uuid.uuid4().hex, day="20270315", extra=""))):
        answer = world.dav(method, url, secret, data=body, headers={"Depth": "0"})
        assert answer.status_code == 403, (method, answer.status_code)
        assert "REST API" in answer.text and "BEGIN:VCALENDAR" not in answer.text
    listed = world.rest("GET", f"{EVENTS}?calendarId={world.calendars['A1']['id']}", secret)
    assert listed.status_code == 200


def test_a_timeframe_token_cannot_write_outside_it_over_rest(world: World) -> None:
    secret = make_token(world.server, "bob", world.ws_a, "calendars:admin",
                        "--past-days", "1", "--future-days", "7")
    answer = world.rest("POST", EVENTS, secret, json={
        "calendarId": world.calendars["A1"]["id"], "summary": "Next March",
        "from": "2027-03-15T10:00:00Z", "to": "2027-03-15T11:00:00Z"})
    assert answer.status_code == 403 and answer.json()["code"] == "TIMEFRAME_DENIED"


# -- destruction outside the reach -----------------------------------------------------------

def snapshot(server: Server) -> set[tuple[object, ...]]:
    """Every collection (path, tag, workspace, properties) and object (path, href, etag)."""
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            collections = conn.execute(sa.text(
                "SELECT id, path, tag, workspace_id, props FROM collection")).all()
            paths = {row[0]: row[1] for row in collections}
            objects = conn.execute(sa.text(
                "SELECT collection_id, href, etag FROM calendar_object")).all()
    finally:
        engine.dispose()
    return ({("collection", r[1], r[2], r[3], str(r[4])) for r in collections}
            | {("object", paths[r[0]], r[1], r[2]) for r in objects})


PROPPATCH_NAME = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
                  "<D:displayname>Taken</D:displayname></D:prop></D:set></D:propertyupdate>")
PROPPATCH_TYPE = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
                  "<D:resourcetype><D:collection/></D:resourcetype></D:prop></D:set>"
                  "</D:propertyupdate>")
MKCAL_BODY = ('<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:'
              'caldav"><D:set><D:prop><D:resourcetype><D:collection/><C:calendar/>'
              "</D:resourcetype></D:prop></D:set></D:mkcol>")


def request_for(world: World, method: str, target: str) -> tuple[str, dict]:
    """(URL, request arguments) of ``method`` on ``target``."""
    homes = {"root": "/", "own home": "/bob/", "alice's home": "/alice/"}
    if target in homes:
        url = homes[target]
    elif target.startswith("object in "):
        url = world.url(target.removeprefix("object in ")) + "kept.ics"
    elif target.startswith("new "):
        url = f"/{target.rsplit(' ', 1)[1]}/{uuid.uuid4().hex}/"
    else:
        url = world.url(target.split(" ")[1])
    kwargs: dict = {}
    if method == "PUT":
        if url.endswith(".ics"):
            kwargs["data"] = OBJECT.format(uid=f"kept-{target.rsplit(' ', 1)[1]}", day=DAY,
                                           extra="X-TAKEN:1\r\n")
        else:
            kwargs["data"] = OBJECT.format(uid=uuid.uuid4().hex, day=DAY, extra="")
    elif method == "PROPPATCH":
        kwargs["data"] = PROPPATCH_TYPE if "resourcetype" in target else PROPPATCH_NAME
    elif method == "MKCOL" and "calendar" in target:  # extended MKCOL of a calendar
        kwargs["data"] = MKCAL_BODY
    elif method in ("MOVE", "COPY"):
        kwargs["headers"] = {"Destination": world.url("A1") + f"{uuid.uuid4().hex}.ics"}
    return url, kwargs


# credential -> [(method, target)] that must be refused and change nothing
REFUSED: dict[str, list[tuple[str, str]]] = {
    "one calendar": [("DELETE", "own home"), ("DELETE", "alice's home"), ("DELETE", "root"),
                     ("PROPPATCH", "own home"), ("DELETE", "calendar A2"),
                     ("DELETE", "object in A2"), ("PUT", "object in A2"),
                     ("PROPPATCH", "calendar A2"), ("MOVE", "object in A2"),
                     ("COPY", "object in A2"), ("DELETE", "calendar A1"),
                     ("PROPPATCH", "calendar A1 resourcetype"), ("PUT", "calendar A1"),
                     ("MKCALENDAR", "new calendar in alice"), ("MKCOL", "new folder in bob"),
                     ("DELETE", "object in B"), ("PUT", "object in alice")],
    "write": [("DELETE", "own home"), ("DELETE", "calendar A1"),
              ("PROPPATCH", "calendar A1 resourcetype"), ("PUT", "calendar A1"),
              ("DELETE", "calendar B"), ("PUT", "object in B"), ("DELETE", "object in alice"),
              ("MKCOL", "new folder in bob")],
    "admin": [("DELETE", "own home"), ("DELETE", "root"), ("PROPPATCH", "own home"),
              ("DELETE", "calendar B"), ("PROPPATCH", "calendar B resourcetype"),
              ("DELETE", "calendar alice"), ("MKCALENDAR", "new calendar in alice"),
              ("MKCOL", "new folder in bob")],
    "other workspace": [("DELETE", "own home"), ("DELETE", "calendar A1"),
                        ("PUT", "object in A1"), ("DELETE", "object in A1"),
                        ("PROPPATCH", "calendar A1"), ("MOVE", "object in B"),
                        ("PROPPATCH", "calendar A1 resourcetype")],
    "password": [("DELETE", "root"), ("DELETE", "own home"), ("DELETE", "alice's home"),
                 ("DELETE", "calendar alice"), ("MKCALENDAR", "new calendar in alice")],
}
DESTRUCTION_CELLS = [(c, m, t) for c, cells in REFUSED.items() for m, t in cells]


@pytest.mark.parametrize(("credential", "method", "target"), DESTRUCTION_CELLS)
def test_nothing_outside_a_credentials_reach_is_changed_over_caldav(
        world: World, credential: str, method: str, target: str) -> None:
    before = snapshot(world.server)
    url, kwargs = request_for(world, method, target)
    answer = world.dav(method, url, world.tokens[credential], **kwargs)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:200])
    assert snapshot(world.server) == before


def test_a_workspace_token_makes_calendars_in_its_own_workspace(world: World) -> None:
    name = uuid.uuid4().hex
    answer = world.dav("MKCALENDAR", f"/bob/{name}/", world.tokens["other workspace"])
    assert answer.status_code == 201
    listed = world.rest("GET", f"/api/v2/w/{world.ws_b}/calendars?pageSize=200",
                        world.tokens["other workspace"]).json()["items"]
    assert name in {c["uuid"] for c in listed}
    listed_a = world.rest("GET", f"/api/v2/w/{world.ws_a}/calendars?pageSize=200",
                          world.tokens["admin"]).json()["items"]
    assert name not in {c["uuid"] for c in listed_a}


def test_what_a_credential_may_do_still_works(world: World) -> None:
    uid = uuid.uuid4().hex
    assert world.dav("PUT", f"{world.url('A1')}{uid}.ics", world.tokens["one calendar"],
                     data=OBJECT.format(uid=uid, day=DAY, extra="")).status_code == 201
    assert world.dav("DELETE", f"{world.url('A1')}{uid}.ics", world.tokens["one calendar"]
                     ).status_code == 200
    assert world.dav("PROPPATCH", world.url("A2"), world.tokens["write"],
                     data=PROPPATCH_NAME).status_code == 207
    home = world.dav("PROPFIND", "/bob/", world.tokens["one calendar"],
                     headers={"Depth": "1"})
    assert home.status_code == 207 and world.calendars["A1"]["uuid"] in home.text
    spare = world.dav("MKCALENDAR", f"/bob/{uuid.uuid4().hex}/", world.tokens["admin"])
    assert spare.status_code == 201
    assert world.dav("DELETE", spare.url, world.tokens["admin"]).status_code == 200
