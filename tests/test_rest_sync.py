"""REST incremental sync: a list for one calendar returns a nextSyncToken; the list with that
syncToken answers what changed since, through either door, from the change log."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from bridge.store.schema import change
from tests.api_helpers import Api, WorkspaceClients, assert_problem, cli_json
from tests.conftest import PASSWORD, Server

EVENTS = "/api/access/calendar/events"
OBJECT = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
          "DTSTAMP:20260101T000000Z\r\nDTSTART:20261210T{hour}0000Z\r\n"
          "DTEND:20261210T{hour}3000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


@dataclass
class Env:
    server: Server
    api: Api
    calendar: dict

    def create(self, summary: str) -> dict:
        answer = self.api.post(EVENTS, json={
            "calendarId": self.calendar["id"], "summary": summary,
            "from": "2026-12-10T09:00:00Z", "to": "2026-12-10T10:00:00Z"})
        assert answer.status_code == 201, answer.text
        return answer.json()["event"]

    def put(self, uid: str, summary: str, hour: str = "11") -> None:
        answer = requests.put(f"{self.calendar['caldavUrl']}{uid}.ics", auth=("alice", PASSWORD),
                              data=OBJECT.format(uid=uid, summary=summary, hour=hour),
                              timeout=30)
        assert answer.status_code in (201, 204), answer.text

    def listing(self, **params: object) -> requests.Response:
        return self.api.get(EVENTS, params={"calendarId": self.calendar["id"], **params})

    def id_of(self, uid: str) -> str:
        events = self.listing(**{"from": "2026-12-10T00:00:00Z", "to": "2026-12-11T00:00:00Z",
                                 "limit": 1000}).json()["events"]
        return next(e["id"] for e in events if e["iCalUID"] == uid)


@pytest.fixture
def env(api_server: Server) -> Iterator[Env]:
    clients = WorkspaceClients.create(api_server, f"Sync {uuid.uuid4().hex[:6]}")
    calendar = clients.admin.post("/calendars", json={"name": "Synced"}).json()
    yield Env(api_server, clients.admin, calendar)


def test_the_delta_equals_the_changes_made_through_both_doors(env: Env) -> None:
    kept = env.create("kept")
    edited_uid, removed = uuid.uuid4().hex, env.create("removed")
    env.put(edited_uid, "before")
    token = env.listing().json()["nextSyncToken"]
    assert token

    added_rest = env.create("added over REST")
    added_dav = uuid.uuid4().hex
    env.put(added_dav, "added over CalDAV")
    env.put(edited_uid, "edited over CalDAV", hour="12")
    assert env.api.delete(f"{EVENTS}/{removed['id']}").status_code == 200
    short_lived = env.create("short-lived")
    requests.delete(f"{env.calendar['caldavUrl']}{short_lived['iCalUID']}.ics",
                    auth=("alice", PASSWORD), timeout=30).raise_for_status()

    delta = env.listing(syncToken=token)
    assert delta.status_code == 200, delta.text
    body = delta.json()
    changed = {e["id"]: e for e in body["events"]}
    assert set(changed) == {added_rest["id"], env.id_of(added_dav), env.id_of(edited_uid)}
    assert changed[env.id_of(edited_uid)]["summary"] == "edited over CalDAV"
    assert set(body["deleted"]) == {removed["id"], short_lived["id"]}
    assert kept["id"] not in changed and kept["id"] not in body["deleted"]

    again = env.listing(syncToken=body["nextSyncToken"]).json()
    assert again["events"] == [] and again["deleted"] == []


def test_a_token_of_another_calendar_or_garbage_is_refused(env: Env) -> None:
    other = env.api.post("/calendars", json={"name": "Other"}).json()
    foreign = env.api.get(EVENTS, params={"calendarId": other["id"]}).json()["nextSyncToken"]
    assert_problem(env.listing(syncToken=foreign), 400, "VALIDATION_ERROR", "syncToken")
    assert_problem(env.listing(syncToken="garbage"), 400, "VALIDATION_ERROR", "syncToken")
    assert_problem(env.api.get(EVENTS, params={"syncToken": foreign}), 400, "VALIDATION_ERROR",
                   "calendarId")


def test_a_token_older_than_the_retained_log_gets_410_after_maintenance(env: Env) -> None:
    env.create("first")
    old_token = env.listing().json()["nextSyncToken"]
    env.create("second")
    env.server.execute(change.update().where(change.c.collection_id == env.calendar["id"])
                       .values(changed_at=change.c.changed_at - 40 * 86400))
    env.create("after the retention")
    cli_json(env.server, "maintenance")  # retention: 30 days by default
    assert_problem(env.listing(syncToken=old_token), 410, "FULL_SYNC_REQUIRED")
    fresh = env.listing().json()["nextSyncToken"]
    assert env.listing(syncToken=fresh).json()["events"] == []
