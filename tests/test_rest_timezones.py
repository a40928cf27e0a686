"""Events created or moved over REST without `timeZone` take their calendar's zone, so a weekly
event keeps its local time across daylight saving, over REST and CalDAV alike; `from`/`to` stay
UTC instants; `startLocal` is in the event's own zone."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.api_helpers import EVENTS, caldav_expand
from tests.test_events_api import Env
from tests.test_events_api import env as events_env  # noqa: F401 - the fixture below uses it

BERLIN = {"timezone": "Europe/Berlin"}


@pytest.fixture
def env(events_env: Env) -> Env:  # noqa: F811
    return events_env


def berlin_calendar(env: Env) -> dict:
    answer = env.alice.post("/calendars", json={"name": f"Berlin {uuid.uuid4().hex[:6]}",
                                                **BERLIN})
    assert answer.status_code == 201, answer.text
    return answer.json()


def instances(env: Env, calendar: dict, start: str, end: str) -> list[dict]:
    answer = env.alice.get(EVENTS, params={"calendarId": calendar["id"], "from": start,
                                           "to": end})
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


def expanded_starts(calendar: dict, start: str, end: str) -> list[str]:
    return sorted(e["DTSTART"].to_ical().decode()
                  for e in caldav_expand(calendar["caldavUrl"], start, end))


def test_a_weekly_event_keeps_its_local_time_across_daylight_saving(env: Env) -> None:
    calendar = berlin_calendar(env)
    created = env.alice.post(EVENTS, json={
        "calendarId": calendar["id"], "summary": "Monday review",
        "from": "2027-02-01T09:00:00Z", "to": "2027-02-01T10:00:00Z",
        "recurrence": ["RRULE:FREQ=WEEKLY"]})
    assert created.status_code == 201, created.text
    event = created.json()["event"]
    assert event["start"] == {"dateTime": "2027-02-01T10:00:00+01:00",
                              "timeZone": "Europe/Berlin"}
    assert event["startLocal"] == "2027-02-01T10:00:00+01:00"
    assert event["startUtc"] == "2027-02-01T09:00:00Z"
    february = instances(env, calendar, "2027-02-08T00:00:00Z", "2027-02-09T00:00:00Z")
    april = instances(env, calendar, "2027-04-05T00:00:00Z", "2027-04-06T00:00:00Z")
    assert [(e["startLocal"], e["startUtc"]) for e in february] == [
        ("2027-02-08T10:00:00+01:00", "2027-02-08T09:00:00Z")]
    assert [(e["startLocal"], e["startUtc"]) for e in april] == [
        ("2027-04-05T10:00:00+02:00", "2027-04-05T08:00:00Z")]
    assert expanded_starts(calendar, "20270208T000000Z", "20270209T000000Z") == \
        ["20270208T090000Z"]
    assert expanded_starts(calendar, "20270405T000000Z", "20270406T000000Z") == \
        ["20270405T080000Z"]


def test_an_explicit_zone_and_all_day_events_are_kept(env: Env) -> None:
    calendar = berlin_calendar(env)
    utc = env.alice.post(EVENTS, json={
        "calendarId": calendar["id"], "summary": "UTC on purpose", "timeZone": "UTC",
        "from": "2027-02-01T09:00:00Z", "to": "2027-02-01T10:00:00Z"}).json()["event"]
    assert utc["start"] == {"dateTime": "2027-02-01T09:00:00+00:00", "timeZone": "UTC"}
    day = env.alice.post(EVENTS, json={
        "calendarId": calendar["id"], "summary": "Holiday", "isAllDay": True,
        "from": "2027-02-01T00:00:00Z", "to": "2027-02-02T00:00:00Z"}).json()["event"]
    assert day["start"] == {"date": "2027-02-01"}


def test_moving_an_event_stored_in_utc_takes_the_calendars_zone(env: Env) -> None:
    calendar = berlin_calendar(env)
    event = env.alice.post(EVENTS, json={
        "calendarId": calendar["id"], "summary": "Stored in UTC", "timeZone": "UTC",
        "from": "2027-02-01T09:00:00Z", "to": "2027-02-01T10:00:00Z",
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=12"]}).json()["event"]
    moved = env.alice.patch(f"{EVENTS}/{event['id']}", json={
        "from": "2027-02-01T08:00:00Z", "to": "2027-02-01T09:00:00Z"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["event"]["start"] == {"dateTime": "2027-02-01T09:00:00+01:00",
                                              "timeZone": "Europe/Berlin"}
    april = instances(env, calendar, "2027-04-05T00:00:00Z", "2027-04-06T00:00:00Z")
    assert [e["startLocal"] for e in april] == ["2027-04-05T09:00:00+02:00"]
    assert dt.datetime.fromisoformat(april[0]["startUtc"].replace("Z", "+00:00")).hour == 7
