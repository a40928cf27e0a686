"""A full feed publishes the calendar, not its owner's reminders nor everyone's addresses:
VALARMs, ATTENDEE and ORGANIZER stay out unless the feed was made with includePrivate."""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path

import icalendar
import pytest
import requests
import sqlalchemy as sa

from bridge.core.bundle import without_private_data
from bridge.store import migrate
from tests.api_helpers import WorkspaceClients, assert_problem
from tests.caldav_data import FOOTER, HEADER, todo, weekly_with_exdate_and_override
from tests.conftest import PASSWORD, Server

Env = WorkspaceClients
ADDRESSES = ("alice@example.com", "bob@example.com", "carol@example.org", "dora@example.org")
MEETING = (
    f"{HEADER}BEGIN:VEVENT\r\nUID:board-meeting\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n"
    "SUMMARY:Board meeting\r\nLOCATION:Room 7\r\nDESCRIPTION:Quarterly numbers\r\n"
    "ORGANIZER;CN=Alice Example:mailto:alice@example.com\r\n"
    "ATTENDEE;CN=Bob Example;PARTSTAT=ACCEPTED;X-RESPONSE-COMMENT=\"I'll bring the\r\n"
    "  slides, call me on 555-0100\":mailto:bob@example.com\r\n"
    "ATTENDEE;CN=Carol;PARTSTAT=NEEDS-ACTION:mailto:carol@example.org\r\n"
    "BEGIN:VALARM\r\nACTION:EMAIL\r\nSUMMARY:Reminder\r\nDESCRIPTION:Board meeting soon\r\n"
    "ATTENDEE:mailto:dora@example.org\r\nTRIGGER:-PT1H\r\nEND:VALARM\r\n"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:board-meeting\r\nDTSTAMP:20260101T000000Z\r\n"
    "RECURRENCE-ID:20261208T100000Z\r\nDTSTART:20261208T140000Z\r\n"
    "DTEND:20261208T150000Z\r\nSUMMARY:Board meeting (moved)\r\n"
    "ORGANIZER;CN=Alice Example:mailto:alice@example.com\r\n"
    "ATTENDEE;CN=Bob Example:mailto:bob@example.com\r\n"
    f"END:VEVENT\r\n{FOOTER}")


@pytest.fixture(scope="module")
def env(api_server: Server) -> Env:
    return WorkspaceClients.create(api_server, "Feed privacy")


@pytest.fixture(scope="module")
def calendar(env: Env) -> dict:
    """A meeting with an organizer, attendees (a comment, a folded line), an e-mail alarm
    and a moved instance; a client's weekly series with a display alarm; a to-do; and an
    event made through the API with attendees."""
    created = env.admin.post("/calendars", json={"name": f"board {uuid.uuid4().hex[:6]}"})
    assert created.status_code == 201, created.text
    calendar = created.json()
    for href, text in (("meeting.ics", MEETING),
                       ("weekly.ics", weekly_with_exdate_and_override("weekly-alarm")),
                       ("todo.ics", todo("todo-1", "20261130T100000Z"))):
        put = requests.put(calendar["caldavUrl"] + href, data=text.encode(),
                           auth=("alice", PASSWORD), headers={"Content-Type": "text/calendar"})
        assert put.status_code in (201, 204), put.text
    made = env.admin.post("/api/access/calendar/events", json={
        "calendarId": calendar["id"], "summary": "Made through the API",
        "from": "2026-12-03T10:00:00Z", "to": "2026-12-03T11:00:00Z",
        "attendees": ["carol@example.org"], "sendNotifications": False})
    assert made.status_code == 201, made.text
    return calendar


def new_feed(env: Env, calendar: dict, **body: object) -> dict:
    response = env.admin.post(f"/calendars/{calendar['id']}/feeds", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def property_names(text: str) -> set[str]:
    return {line.split(":", 1)[0].split(";", 1)[0].upper() for line in text.split("\r\n")
            if line and line[0] not in " \t"}


def components(text: str) -> list[tuple[str, str, str]]:
    cal = icalendar.Calendar.from_ical(text)
    return sorted((c.name, str(c["UID"]), str(c.get("RECURRENCE-ID", "")))
                  for c in cal.subcomponents if c.name != "VTIMEZONE")


def test_a_full_feed_leaves_out_alarms_attendees_and_organizers(env: Env, calendar: dict
                                                               ) -> None:
    feed = new_feed(env, calendar)
    assert feed["includePrivate"] is False
    for _ in range(2):  # built and streamed, then from the body cache
        answer = requests.get(feed["url"])
        assert answer.status_code == 200, answer.text
        text = answer.text
        assert not {"ATTENDEE", "ORGANIZER"} & property_names(text)
        assert "VALARM" not in text and "mailto:" not in text
        for secret in (*ADDRESSES, "555-0100", "Bob Example", "Reminder"):
            assert secret not in text
        for kept in ("SUMMARY:Board meeting", "LOCATION:Room 7",
                     "DESCRIPTION:Quarterly numbers", "SUMMARY:Made through the API",
                     "X-CLIENT-PROP:kept", "RRULE:FREQ=WEEKLY;COUNT=3"):
            assert kept in text
    whole = requests.get(calendar["caldavUrl"], auth=("alice", PASSWORD)).text
    assert "mailto:bob@example.com" in whole and "BEGIN:VALARM" in whole  # still stored
    assert components(text) == components(whole)
    packed = requests.get(feed["url"], headers={"Accept-Encoding": "gzip"}, stream=True)
    assert gzip.decompress(packed.raw.read(decode_content=False)) == answer.content


def test_a_feed_made_with_include_private_publishes_them_under_its_own_etag(
        env: Env, calendar: dict) -> None:
    private = new_feed(env, calendar, includePrivate=True)
    assert private["includePrivate"] is True
    public = new_feed(env, calendar)
    # the private body is built and cached first: the public feed must not be served from it
    first = requests.get(private["url"])
    assert requests.get(private["url"]).content == first.content
    assert {"ATTENDEE", "ORGANIZER", "BEGIN"} <= property_names(first.text)
    assert "BEGIN:VALARM" in first.text and "555-0100" in first.text
    assert all(address in first.text for address in ADDRESSES)
    plain = requests.get(public["url"])
    assert plain.headers["ETag"] != first.headers["ETag"]
    assert "mailto:" not in plain.text and "VALARM" not in plain.text
    assert requests.get(public["url"], headers={"If-None-Match": first.headers["ETag"]}
                        ).status_code == 200

    base = f"/calendars/{calendar['id']}/feeds"
    listed = {f["id"]: f for f in env.admin.get(base).json()["items"]}
    assert listed[private["id"]]["includePrivate"] is True
    assert listed[public["id"]]["includePrivate"] is False
    rotated = env.admin.post(f"{base}/{private['id']}/rotate").json()
    assert rotated["includePrivate"] is True
    assert "mailto:bob@example.com" in requests.get(rotated["url"]).text


def test_include_private_is_for_full_feeds_only(env: Env, calendar: dict) -> None:
    assert_problem(env.admin.post(f"/calendars/{calendar['id']}/feeds",
                                  json={"kind": "freebusy", "includePrivate": True}),
                   400, "VALIDATION_ERROR", "includePrivate")


def test_without_private_data_drops_whole_lines_and_keeps_every_other_byte() -> None:
    text = ("BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\nattendee;cn=\"a:b\";x-note=\"\r\n"
            " folded\":mailto:x@example.com\r\nX-ATTENDEE-COUNT:3\r\nATTENDEES:kept\r\n"
            "DESCRIPTION:line one\u2028ATTENDEE:not a line of its own\r\n"
            "Organizer:mailto:boss@example.com\r\nBEGIN:VALARM\r\nACTION:AUDIO\r\n"
            "TRIGGER:-PT5M\r\nEND:VALARM\r\nSUMMARY:kept\r\n\tfolded too\r\nEND:VTODO\r\n"
            "END:VCALENDAR\r\n")
    assert without_private_data(text) == (
        "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\nX-ATTENDEE-COUNT:3\r\nATTENDEES:kept\r\n"
        "DESCRIPTION:line one\u2028ATTENDEE:not a line of its own\r\n"
        "SUMMARY:kept\r\n\tfolded too\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")
    plain = weekly_with_exdate_and_override("w").replace(
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:soon\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\n",
        "")
    assert without_private_data(plain) is plain  # nothing to drop: the very same text


def test_feeds_made_before_the_option_stay_without_private_data(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        migrate.upgrade(engine, "0004_outbox")
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO collection (id, path, owner, tag, props, created_at, updated_at) "
                "VALUES (1, 'alice/cal', 'alice', 'VCALENDAR', '{}', 0, 0)"))
            conn.execute(sa.text(
                "INSERT INTO feed_token (collection_id, kind, prefix, secret_hash, created_at) "
                "VALUES (1, 'full', 'abc', 'hash', 0)"))
        migrate.upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT include_private FROM feed_token")
                                ).scalar_one() in (False, 0)
    finally:
        engine.dispose()
