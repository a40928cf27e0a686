"""One occurrence of a series edited over REST, seen over CalDAV and REST alike: PATCH writes one
RECURRENCE-ID override, DELETE an EXDATE (and a CANCEL for that instance only), respond changes
that instance's PARTSTAT only, and "this and following" splits the series."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import icalendar
import pytest
import recurring_ical_events
import requests
import sqlalchemy as sa

from bridge.store.schema import outbox_message
from tests.api_helpers import EVENTS, assert_problem, caldav_expand
from tests.conftest import PASSWORD, Server
from tests.test_events_api import Env, create
from tests.test_events_api import env as events_env  # noqa: F401 - the fixture below uses it

DECEMBER = {"from": "2026-12-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}


@pytest.fixture
def env(events_env: Env) -> Env:  # noqa: F811
    """The events API's fixture, with a calendar of its own."""
    calendar = events_env.alice.post("/calendars",
                                     json={"name": f"Instances {uuid.uuid4().hex[:8]}"})
    assert calendar.status_code == 201, calendar.text
    return dataclasses.replace(events_env, calendar=calendar.json())


def weekly(env: Env, count: int = 4, **fields: object) -> dict:
    """A weekly series in UTC, Mondays 09:00Z from 2026-12-07."""
    return create(env, summary="Standup", timeZone="UTC", **{
        "from": "2026-12-07T09:00:00Z", "to": "2026-12-07T10:00:00Z",
        "recurrence": [f"RRULE:FREQ=WEEKLY;COUNT={count}"], **fields})["event"]


def stored(env: Env, event: dict) -> str:
    answer = requests.get(f"{env.calendar['caldavUrl']}{event['iCalUID']}.ics",
                          auth=("alice", PASSWORD), timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.text


def listed(env: Env) -> list[tuple[str, str, str]]:
    answer = env.alice.get(EVENTS, params={**DECEMBER, "calendarId": env.calendar["id"]})
    assert answer.status_code == 200, answer.text
    return [(e["id"], e["start"]["dateTime"], e["summary"]) for e in answer.json()["events"]]


def queued(server: Server, method: str) -> list[str]:
    """The calendar parts of the outbox messages of ``method``, oldest first."""
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(
                sa.select(outbox_message.c.calendar_text)
                .where(outbox_message.c.method == method).order_by(outbox_message.c.id)
            ).scalars())
    finally:
        engine.dispose()


def test_patching_one_instance_writes_one_override_that_both_doors_show(env: Env) -> None:
    series = weekly(env)
    instance = f"{series['id']}_20261214T090000Z"
    answer = env.alice.patch(f"{EVENTS}/{instance}", json={
        "summary": "Moved standup", "from": "2026-12-14T13:00:00Z", "to": "2026-12-14T14:00:00Z"},
        headers={"If-Match": series["etag"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["event"]["id"] == instance
    calendar = icalendar.Calendar.from_ical(stored(env, series))
    events = calendar.walk("VEVENT")
    overrides = [e for e in events if "RECURRENCE-ID" in e]
    assert len(events) == 2 and len(overrides) == 1
    override = overrides[0]
    assert override["RECURRENCE-ID"].dt == dt.datetime(2026, 12, 14, 9, tzinfo=dt.UTC)
    assert override.start == dt.datetime(2026, 12, 14, 13, tzinfo=dt.UTC)
    assert str(override["SUMMARY"]) == "Moved standup"
    master = next(e for e in events if "RECURRENCE-ID" not in e)
    assert str(master["SUMMARY"]) == "Standup" and master["RRULE"]["COUNT"] == [4]
    # Only that change: every other property of the override is the master's.
    changed = {"RECURRENCE-ID", "DTSTART", "DTEND", "SUMMARY", "DTSTAMP", "LAST-MODIFIED",
               "SEQUENCE", "RRULE"}
    assert {k: v for k, v in override.property_items(recursive=False) if k not in changed} == \
        {k: v for k, v in master.property_items(recursive=False) if k not in changed}
    assert listed(env) == [
        (f"{series['id']}_20261207T090000Z", "2026-12-07T09:00:00+00:00", "Standup"),
        (instance, "2026-12-14T13:00:00+00:00", "Moved standup"),
        (f"{series['id']}_20261221T090000Z", "2026-12-21T09:00:00+00:00", "Standup"),
        (f"{series['id']}_20261228T090000Z", "2026-12-28T09:00:00+00:00", "Standup")]


def test_an_instance_edit_needs_the_series_etag_and_an_existing_instance(env: Env) -> None:
    series = weekly(env)
    assert_problem(env.alice.patch(f"{EVENTS}/{series['id']}_20261214T090000Z",
                                   json={"summary": "x"}, headers={"If-Match": '"stale"'}),
                   412, "PRECONDITION_FAILED")
    assert_problem(env.alice.patch(f"{EVENTS}/{series['id']}_20261215T090000Z",
                                   json={"summary": "x"}), 404, "EVENT_NOT_FOUND")
    assert_problem(env.alice.patch(f"{EVENTS}/{series['id']}_20261214T090000Z",
                                   json={"recurrence": ["RRULE:FREQ=DAILY"]}),
                   400, "VALIDATION_ERROR")
    assert env.alice.get(f"{EVENTS}/{series['id']}").json()["event"]["etag"] == series["etag"]


CLIENT_SERIES = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Apple Inc.//macOS 15//EN\r\n"
    "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
    "DTSTART:20261207T090000Z\r\nDTEND:20261207T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n"
    "SUMMARY:Client series\r\nX-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC\r\n"
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nDESCRIPTION:Reminder\r\nEND:VALARM\r\n"
    "END:VEVENT\r\n")
CLIENT_OVERRIDE = (
    "BEGIN:VEVENT\r\nUID:{uid}\r\nRECURRENCE-ID:20261214T090000Z\r\nDTSTAMP:20261101T000000Z\r\n"
    "DTSTART:20261214T150000Z\r\nDTEND:20261214T160000Z\r\nSUMMARY:Client moved this\r\n"
    "X-CLIENT-NOTE:kept\r\nBEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n"
    "END:VEVENT\r\n")


def put_client_object(env: Env, template: str) -> str:
    """``template`` (with its UID to fill) PUT as a calendar app would; its URL."""
    uid = uuid.uuid4().hex
    url = f"{env.calendar['caldavUrl']}{uid}.ics"
    requests.put(url, data=template.format(uid=uid).encode(), auth=("alice", PASSWORD),
                 timeout=30, headers={"Content-Type": "text/calendar"}).raise_for_status()
    return url


def test_a_client_written_override_survives_a_rest_edit_of_another_instance(env: Env) -> None:
    url = put_client_object(env, CLIENT_SERIES + CLIENT_OVERRIDE + "END:VCALENDAR\r\n")
    before = requests.get(url, auth=("alice", PASSWORD), timeout=30).text
    series_id = next(i for i, _, s in listed(env) if s == "Client series").split("_")[0]
    answer = env.alice.patch(f"{EVENTS}/{series_id}_20261221T090000Z",
                             json={"location": "Room 4"})
    assert answer.status_code == 200, answer.text
    after = requests.get(url, auth=("alice", PASSWORD), timeout=30).text
    # The master and the client's override stay byte for byte as stored; one block is added.
    assert after.startswith(before.removesuffix("END:VCALENDAR\r\n"))
    assert after.count("BEGIN:VEVENT") == 3 and "X-CLIENT-NOTE:kept" in after
    new = icalendar.Calendar.from_ical(after).walk("VEVENT")[-1]
    assert str(new["LOCATION"]) == "Room 4" and new.start.day == 21
    assert [a.name for a in new.subcomponents] == ["VALARM"]  # the master's alarm kept
    assert str(new["X-APPLE-TRAVEL-ADVISORY-BEHAVIOR"]) == "AUTOMATIC"


def test_deleting_one_instance_adds_an_exdate_and_cancels_only_it(env: Env) -> None:
    series = weekly(env, attendees=["dora@example.org"])
    before = len(queued(env.server, "CANCEL"))
    instance = f"{series['id']}_20261221T090000Z"
    answer = env.alice.delete(f"{EVENTS}/{instance}")
    assert answer.status_code == 200 and answer.json()["notificationQueued"] is True
    text = stored(env, series)
    assert "EXDATE:20261221T090000Z" in text.replace("\r\n ", "")
    assert [s for _, s, _ in listed(env)] == ["2026-12-07T09:00:00+00:00",
                                             "2026-12-14T09:00:00+00:00",
                                             "2026-12-28T09:00:00+00:00"]
    cancels = queued(env.server, "CANCEL")[before:]
    assert len(cancels) == 1
    cancelled = icalendar.Calendar.from_ical(cancels[0]).walk("VEVENT")[0]
    assert cancelled["RECURRENCE-ID"].dt == dt.datetime(2026, 12, 21, 9, tzinfo=dt.UTC)
    assert "RRULE" not in cancelled
    assert env.alice.get(f"{EVENTS}/{instance}").status_code == 404


INVITATION = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
    "DTSTAMP:20261101T000000Z\r\nDTSTART:20261207T090000Z\r\nDTEND:20261207T100000Z\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Their series\r\n"
    "ORGANIZER:mailto:olga@example.org\r\n"
    "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.com\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n")


def test_responding_to_one_instance_changes_only_its_partstat(env: Env) -> None:
    url = put_client_object(env, INVITATION)
    series_id = next(i for i, _, s in listed(env) if s == "Their series").split("_")[0]
    before = len(queued(env.server, "REPLY"))
    answer = env.alice.post(f"{EVENTS}/{series_id}_20261214T090000Z/respond",
                            json={"status": "declined", "comment": "Away that week"})
    assert answer.status_code == 200, answer.text
    text = requests.get(url, auth=("alice", PASSWORD), timeout=30).text
    by_start = {e.start: e for e in recurring_ical_events.of(
        icalendar.Calendar.from_ical(text)).between(dt.datetime(2026, 12, 1),
                                                    dt.datetime(2027, 1, 1))}
    partstats = {start.day: str(e["ATTENDEE"].params["PARTSTAT"])
                 for start, e in by_start.items()}
    assert partstats == {7: "NEEDS-ACTION", 14: "DECLINED", 21: "NEEDS-ACTION"}
    replies = queued(env.server, "REPLY")[before:]
    assert len(replies) == 1
    reply = icalendar.Calendar.from_ical(replies[0]).walk("VEVENT")[0]
    assert reply["RECURRENCE-ID"].dt == dt.datetime(2026, 12, 14, 9, tzinfo=dt.UTC)
    assert str(reply["ATTENDEE"].params["PARTSTAT"]) == "DECLINED"


def caldav_december(env: Env) -> list[tuple[str, str]]:
    """(start, summary) of December's instances as a CalDAV client's expand REPORT sees them."""
    events = caldav_expand(env.calendar["caldavUrl"], "20261201T000000Z", "20270101T000000Z")
    return sorted((e.start.isoformat(), str(e["SUMMARY"])) for e in events)


def test_this_and_following_splits_the_series_for_both_doors(env: Env) -> None:
    series = weekly(env, count=4)
    answer = env.alice.patch(f"{EVENTS}/{series['id']}_20261221T090000Z",
                             params={"range": "thisAndFollowing"},
                             json={"summary": "Standup (new room)", "location": "Room 7"})
    assert answer.status_code == 200, answer.text
    new_series = answer.json()["event"]
    assert new_series["iCalUID"] != series["iCalUID"]
    expected = [
        ("2026-12-07T09:00:00+00:00", "Standup"), ("2026-12-14T09:00:00+00:00", "Standup"),
        ("2026-12-21T09:00:00+00:00", "Standup (new room)"),
        ("2026-12-28T09:00:00+00:00", "Standup (new room)")]
    assert [(s, t) for _, s, t in listed(env)] == expected
    assert caldav_december(env) == expected
    old = icalendar.Calendar.from_ical(stored(env, series)).walk("VEVENT")[0]
    assert old["RRULE"]["UNTIL"] == [dt.datetime(2026, 12, 21, 8, 59, 59, tzinfo=dt.UTC)]
    new = icalendar.Calendar.from_ical(stored(env, new_series)).walk("VEVENT")[0]
    assert new["RRULE"]["COUNT"] == [2] and str(new["RELATED-TO"]) == series["iCalUID"]
    assert new.start == dt.datetime(2026, 12, 21, 9, tzinfo=dt.UTC)
    deleted = env.alice.delete(f"{EVENTS}/{new_series['id']}_20261228T090000Z",
                               params={"range": "thisAndFollowing"})
    assert deleted.status_code == 200, deleted.text
    assert [t for _, _, t in listed(env)] == ["Standup", "Standup", "Standup (new room)"]
    assert [t for _, t in caldav_december(env)] == ["Standup", "Standup", "Standup (new room)"]


def test_this_and_following_from_the_first_instance_is_the_whole_series(env: Env) -> None:
    series = weekly(env, count=2)
    answer = env.alice.patch(f"{EVENTS}/{series['id']}_20261207T090000Z",
                             params={"range": "thisAndFollowing"}, json={"summary": "All"})
    assert answer.status_code == 200 and answer.json()["event"]["id"] == series["id"]
    assert [t for _, _, t in listed(env)] == ["All", "All"]


def test_the_openapi_document_describes_instance_ids_and_the_range(env: Env) -> None:
    document = requests.get(f"{env.server.url}/api/openapi.json", timeout=30).json()
    operations = document["paths"]["/api/access/calendar/events/{eventId}"]
    for method in ("patch", "delete"):
        parameters = {p["name"]: p for p in operations[method]["parameters"]}
        assert "_<original start>" in parameters["eventId"]["description"]
        assert parameters["range"]["schema"]["enum"] == ["thisInstance", "thisAndFollowing"]
        assert "split" in parameters["range"]["description"]
