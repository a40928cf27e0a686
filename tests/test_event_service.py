"""The event service's promises, checked on the Flask app in this process over a real store:
one REST create parses the new text once, and nothing but the write runs inside the write
transaction (no parsing, no rendering)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import icalendar
import pytest
from flask.testing import FlaskClient

from bridge.app import create_app
from bridge.config import load_settings
from bridge.mapping import events as mapping
from bridge.store.outbox import Outbox
from bridge.store.store import CalendarStore
from bridge.wsgi import open_configured_store
from tests.api_helpers import cli_json, make_token
from tests.conftest import QUIET_AUTH, Server

EVENTS = "/api/access/calendar/events"


@dataclass
class Probe:
    """Counts parses of event texts and renderings, and which ran in a write transaction."""

    depth: int = 0
    parses: list[bool] = field(default_factory=list)   # one entry a parse: inside a write?
    renders: list[bool] = field(default_factory=list)

    def reset(self) -> None:
        self.parses.clear()
        self.renders.clear()


@dataclass
class App:
    client: FlaskClient
    headers: dict[str, str]
    bob: dict[str, str]
    calendar_id: int
    probe: Probe
    store: CalendarStore


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    server = Server(tmp_path_factory.mktemp("service"), extra_env=dict(QUIET_AUTH))
    for user in ("alice", "bob"):
        server.add_user(user)
    workspace = cli_json(server, "workspace", "create", "Service", "--owner", "alice")["uuid"]
    cli_json(server, "workspace", "add-member", workspace, "bob")
    settings = load_settings(environ=server.env)
    store = open_configured_store(settings)
    probe = Probe()
    write = store.write

    @contextmanager
    def counted_write(*paths: str) -> Iterator[Any]:
        with write(*paths) as conn:
            probe.depth += 1
            try:
                yield conn
            finally:
                probe.depth -= 1

    store.write = counted_write  # type: ignore[method-assign]  # the one store of this app
    client = create_app(settings, store).test_client()
    headers = {"Authorization": "Bearer " + make_token(server, "alice", workspace,
                                                       "calendars:admin")}
    bob = {"Authorization": "Bearer " + make_token(server, "bob", workspace, "calendars:write")}
    calendar = client.post(f"/api/v2/w/{workspace}/calendars", headers=headers,
                           json={"name": "Parses"}).get_json()
    yield App(client, headers, bob, calendar["id"], probe, store)


@pytest.fixture
def counted(app: App, monkeypatch: pytest.MonkeyPatch) -> Probe:
    probe = app.probe
    from_ical: Callable[..., Any] = icalendar.Calendar.from_ical
    event_json = mapping.event_json

    def counting_from_ical(text: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if b"BEGIN:VEVENT" in (text if isinstance(text, bytes) else text.encode()):
            probe.parses.append(probe.depth > 0)
        return from_ical(text, *args, **kwargs)

    def counting_event_json(*args: Any, **kwargs: Any) -> dict[str, Any]:
        probe.renders.append(probe.depth > 0)
        return event_json(*args, **kwargs)

    monkeypatch.setattr(icalendar.Calendar, "from_ical", counting_from_ical)
    monkeypatch.setattr(mapping, "event_json", counting_event_json)
    probe.reset()
    return probe


def _post(app: App, key: str | None = None, **fields: object) -> dict[str, Any]:
    headers = {**app.headers, **({"Idempotency-Key": key} if key else {})}
    response = app.client.post(EVENTS, headers=headers, json={
        "calendarId": app.calendar_id, "summary": "Parsed once",
        "from": "2026-12-10T09:00:00Z", "to": "2026-12-10T10:00:00Z", **fields})
    assert response.status_code == 201, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert response.headers["ETag"] == body["event"]["etag"]
    assert response.headers["Location"] == f"{EVENTS}/{body['event']['id']}"
    return body


@pytest.mark.parametrize("key", [None, "once"])
# Attendees elsewhere: a user of this server gets a copy written (and parsed) in the same
# transaction (bridge/service/scheduling.py), which is not this write's own parse.
@pytest.mark.parametrize("attendees", [[], ["bob@example.net", "carol@example.net"]])
def test_a_create_parses_its_text_once_and_renders_outside_the_write(
        app: App, counted: Probe, key: str | None, attendees: list[str]) -> None:
    # The invitations are built from the same parse as the index and the answer.
    body = _post(app, key and f"{key}-{uuid.uuid4()}", attendees=attendees)
    assert counted.parses == [False]  # once, before the write transaction
    assert counted.renders == [False]
    assert body["event"]["summary"] == "Parsed once"
    assert body["notificationQueued"] is bool(attendees)


def test_an_idempotent_replay_answers_the_stored_body(app: App, counted: Probe) -> None:
    key = str(uuid.uuid4())
    first = _post(app, key)
    counted.reset()
    response = app.client.post(EVENTS, headers={**app.headers, "Idempotency-Key": key}, json={
        "calendarId": app.calendar_id, "summary": "Parsed once",
        "from": "2026-12-10T09:00:00Z", "to": "2026-12-10T10:00:00Z"})
    assert response.status_code == 201 and response.get_json() == first
    assert response.headers["Idempotent-Replayed"] == "true"
    # The replay drafts its answer once, outside the lock, like any create; the key found
    # inside the transaction makes the stored body win, and nothing runs inside it.
    assert (counted.parses, counted.renders) == ([False], [False])


def test_writes_with_invitations_neither_parse_nor_render_inside_the_write(
        app: App, counted: Probe) -> None:
    event = _post(app, attendees=["bob@example.net", "carol@example.net"])["event"]
    url = f"{EVENTS}/{event['id']}"
    patched = app.client.patch(url, headers=app.headers, json={
        "summary": "Moved", "from": "2026-12-10T11:00:00Z", "to": "2026-12-10T12:00:00Z",
        "removeAttendees": ["carol@example.net"]})
    assert patched.status_code == 200, patched.get_data(as_text=True)
    assert patched.get_json()["notificationQueued"] is True
    deleted = app.client.delete(url, headers=app.headers)
    assert deleted.status_code == 200 and deleted.get_json()["notificationQueued"] is True
    assert counted.parses and True not in counted.parses
    assert counted.renders and True not in counted.renders


def test_a_response_neither_parses_nor_renders_inside_the_write(
        app: App, counted: Probe) -> None:
    # Organized elsewhere, so the REPLY is mail (a local organizer's copy would be updated,
    # and parsed, inside the write: bridge/service/scheduling.py).
    uid = str(uuid.uuid4())
    text = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261210T090000Z\r\n"
            "DTEND:20261210T100000Z\r\nSUMMARY:Elsewhere\r\n"
            "ORGANIZER:mailto:olga@example.org\r\n"
            "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.com\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")
    record, _ = app.store.put_object(app.calendar_id, f"{uid}.ics", app.store.prepare(text))
    counted.reset()
    answer = app.client.post(f"{EVENTS}/{record.public_id}/respond", headers=app.bob,
                             json={"status": "accepted", "comment": "See you"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["notificationQueued"] is True
    assert answer.get_json()["event"]["responseStatus"] == "accepted"
    assert counted.parses and True not in counted.parses
    assert counted.renders == [False]


def test_an_attendee_named_twice_is_invited_once(app: App) -> None:
    event = _post(app, attendees=["bob@example.net", "BOB@example.net"])["event"]
    queued = Outbox(app.store).messages(event_uid=event["iCalUID"])
    assert [(m.method, m.recipients) for m in queued] == [("REQUEST", ("bob@example.net",))]
