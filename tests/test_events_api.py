"""Access Events API (seed 004) through the real server, checked over CalDAV too."""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

import icalendar
import pytest
import recurring_ical_events
import requests
from caldav.davclient import DAVClient

from tests import caldav_data as data
from tests.api_helpers import Api, assert_problem, cli_json, make_token
from tests.conftest import PASSWORD, Server

UTC = dt.UTC
EVENTS = "/api/access/calendar/events"


@dataclass
class Env:
    server: Server
    workspace: str
    alice: Api            # calendars:admin, full access
    bob: Api              # bob's full token (attendee of alice's events, owner of his own)
    calendar: dict        # alice's calendar
    bob_calendar: dict

    def token(self, user: str, scopes: str, *extra: str) -> Api:
        return Api(self.server, self.workspace, make_token(self.server, user, self.workspace,
                                                            scopes, *extra))

    def dav(self, user: str = "alice") -> DAVClient:
        return DAVClient(url=self.server.url, username=user, password=PASSWORD)


@pytest.fixture(scope="module")
def env(api_server: Server) -> Iterator[Env]:
    ws = cli_json(api_server, "workspace", "create", "Events", "--owner", "alice")["uuid"]
    cli_json(api_server, "workspace", "add-member", ws, "bob")
    alice = Api(api_server, ws, make_token(api_server, "alice", ws, "calendars:admin"))
    bob = Api(api_server, ws, make_token(api_server, "bob", ws, "calendars:admin"))
    calendar = alice.post("/calendars", json={"name": "Alice work",
                                              "timezone": "Europe/Berlin"}).json()
    bob_calendar = bob.post("/calendars", json={"name": "Bob's"}).json()
    yield Env(api_server, ws, alice, bob, calendar, bob_calendar)


def create(env: Env, api: Api | None = None, **fields: object) -> dict:
    body = {"calendarId": env.calendar["id"], "summary": "Project Kickoff",
            "from": "2026-12-10T09:00:00Z", "to": "2026-12-10T10:00:00Z", **fields}
    response = (api or env.alice).post(EVENTS, json=body)
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == response.json()["event"]["etag"]
    return response.json()


def caldav_object(env: Env, event: dict, calendar: dict | None = None) -> icalendar.Calendar:
    calendar = calendar or env.calendar
    uid = event["event"]["iCalUID"]
    found = env.dav().calendar(url=calendar["caldavUrl"]).event_by_uid(uid)
    return icalendar.Calendar.from_ical(found.data)


def sync_changes(url: str, token: str) -> tuple[str, set[str], set[str]]:
    body = ('<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>'
            f"{token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/>"
            "</D:prop></D:sync-collection>")
    response = requests.request("REPORT", url, data=body, auth=("alice", PASSWORD),
                                headers={"Content-Type": "text/xml"})
    assert response.status_code == 207
    root = ET.fromstring(response.content)
    changed: set[str] = set()
    deleted: set[str] = set()
    for node in root.iterfind("{DAV:}response"):
        href = node.findtext("{DAV:}href")
        assert href is not None
        href = unquote(href.rsplit("/", 1)[1])
        status = node.findtext("{DAV:}status") or ""
        (deleted if "404" in status else changed).add(href)
    new_token = root.findtext("{DAV:}sync-token")
    assert new_token is not None
    return new_token, changed, deleted


# -- both doors --------------------------------------------------------------------------------

def test_created_event_is_native_icalendar_and_in_the_next_sync(env: Env) -> None:
    token, _, _ = sync_changes(env.calendar["caldavUrl"], "")
    created = create(env, attendees=["bob@example.com", "carol@example.org"],
                     recurrence=["RRULE:FREQ=WEEKLY;COUNT=4"], timeZone="Europe/Berlin",
                     location="Room 101", description="Initial planning")
    assert created["notificationQueued"] is True
    cal = caldav_object(env, created)
    event = cal.walk("VEVENT")[0]
    assert event.get("DTSTART").dt == dt.datetime(2026, 12, 10, 10, 0,
                                              tzinfo=event.get("DTSTART").dt.tzinfo)
    assert str(event["DTSTART"].params["TZID"]) == "Europe/Berlin"
    assert event.get("DTEND").dt - event.get("DTSTART").dt == dt.timedelta(hours=1)
    assert event.get("RRULE")["FREQ"] == ["WEEKLY"] and event.get("RRULE")["COUNT"] == [4]
    assert str(event["ORGANIZER"]).lower() == "mailto:alice@example.com"
    attendees = {str(a).lower(): a.params for a in event.get("ATTENDEE")}
    assert set(attendees) == {"mailto:bob@example.com", "mailto:carol@example.org"}
    assert all(p["PARTSTAT"] == "NEEDS-ACTION" and p["RSVP"] == "TRUE"
               for p in attendees.values())
    _, changed, _ = sync_changes(env.calendar["caldavUrl"], token)
    assert changed == {f"{event['UID']}.ics"}


CLIENT_EVENT = data.weekly_with_exdate_and_override("client-series").replace(
    "X-CLIENT-PROP:kept\r\n",
    "X-CLIENT-PROP:kept\r\nX-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC\r\n"
    "X-UNKNOWN-THING;X-PARAM=1:some value that is long enough to be folded by the client wh\r\n"
    " en it writes the line\r\n")


def test_patch_keeps_alarms_overrides_and_x_properties_written_by_a_client(env: Env) -> None:
    url = env.calendar["caldavUrl"] + "client-series.ics"
    put = requests.put(url, data=CLIENT_EVENT.encode(), auth=("alice", PASSWORD),
                       headers={"Content-Type": "text/calendar"})
    assert put.status_code == 201
    listed = env.alice.get(EVENTS, params={"from": "2026-11-01T00:00:00Z",
                                           "to": "2026-12-01T00:00:00Z",
                                           "calendarId": env.calendar["id"]}).json()
    mine = [e for e in listed["events"] if e["iCalUID"] == "client-series"]
    assert len(mine) == 4  # Nov 2, 9, 23 (moved), 30; Nov 16 is excluded
    series_id = mine[0]["recurringEventId"]
    fetched = env.alice.get(f"{EVENTS}/{series_id}")
    assert fetched.status_code == 200 and fetched.headers["ETag"]
    assert any(line.startswith("RRULE:") for line in fetched.json()["event"]["recurrence"])
    # Radicale stores what vobject re-serialized from the PUT: that is the text to keep.
    before = requests.get(url, auth=("alice", PASSWORD)).text
    patched = env.alice.patch(f"{EVENTS}/{series_id}", json={"summary": "Renamed by an agent"},
                              headers={"If-Match": fetched.headers["ETag"]})
    assert patched.status_code == 200, patched.text
    after = requests.get(url, auth=("alice", PASSWORD)).text
    after_lines = after.split("\r\n")
    master_end = before.index("END:VEVENT")
    rewritten = ("SUMMARY:", "SEQUENCE", "DTSTAMP", "LAST-MODIFIED")
    kept = [line for line in before[:master_end].split("\r\n")
            if not line.startswith(rewritten)] + before[master_end:].split("\r\n")
    missing = [line for line in kept if line not in after_lines]
    assert missing == []
    assert after[after.index("END:VEVENT"):] == before[master_end:]  # the override, untouched
    cal = icalendar.Calendar.from_ical(after)
    master, override = cal.walk("VEVENT")
    assert str(master["SUMMARY"]) == "Renamed by an agent"
    assert str(override["SUMMARY"]) == "Weekly sync (moved)"
    assert master.walk("VALARM") and str(master["X-CLIENT-PROP"]) == "kept"
    assert int(master.get("SEQUENCE")) == 1


def test_delete_shows_as_deleted_in_the_next_sync(env: Env) -> None:
    created = create(env)
    token, _, _ = sync_changes(env.calendar["caldavUrl"], "")
    response = env.alice.delete(f"{EVENTS}/{created['event']['id']}")
    assert response.status_code == 200
    assert response.json()["success"] is True and response.json()["message"] == "Event deleted"
    _, _, deleted = sync_changes(env.calendar["caldavUrl"], token)
    assert deleted == {f"{created['event']['iCalUID']}.ics"}
    assert_problem(env.alice.get(f"{EVENTS}/{created['event']['id']}"), 404, "EVENT_NOT_FOUND")


def test_respond_shows_as_the_attendees_partstat_over_caldav(env: Env) -> None:
    created = create(env, attendees=["bob@example.com"])
    event_id = created["event"]["id"]
    answer = env.bob.post(f"{EVENTS}/{event_id}/respond",
                          json={"status": "accepted", "comment": "Looking forward to it!"})
    assert answer.status_code == 200, answer.text
    me = [a for a in answer.json()["event"]["attendees"] if a["isSelf"]]
    assert me[0]["response"] == "accepted"
    event = caldav_object(env, created).walk("VEVENT")[0]
    attendee = event["ATTENDEE"] if not isinstance(event["ATTENDEE"], list) \
        else event["ATTENDEE"][0]
    assert attendee.params["PARTSTAT"] == "ACCEPTED"
    assert_problem(env.alice.post(f"{EVENTS}/{event_id}/respond", json={"status": "declined"}),
                   409, "CANNOT_RSVP_AS_ORGANIZER")
    not_invited = create(env)  # alice sees it, but nobody is invited
    assert_problem(env.alice.post(f"{EVENTS}/{not_invited['event']['id']}/respond",
                                  json={"status": "accepted"}), 409, "NOT_AN_ATTENDEE")
    # bob cannot see alice's calendar, and an event that does not invite him stays hidden
    assert_problem(env.bob.post(f"{EVENTS}/{not_invited['event']['id']}/respond",
                                json={"status": "accepted"}), 404, "EVENT_NOT_FOUND")


# -- lists equal recurring-ical-events ------------------------------------------------------

@pytest.fixture(scope="module")
def generated(env: Env) -> tuple[dict, list[str]]:
    calendar = env.alice.post("/calendars", json={"name": "Generated"}).json()
    texts = [data.weekly_with_exdate_and_override("g-weekly"),
             data.open_ended_daily("g-daily"),
             data.yearly_all_day("g-yearly")]
    start = dt.datetime(2027, 3, 1, 8, tzinfo=UTC)
    for i in range(30):
        begin = start + dt.timedelta(hours=17 * i)
        texts.append(data.single_event(f"g-single-{i}", begin.strftime("%Y%m%dT%H%M%SZ"),
                                       (begin + dt.timedelta(minutes=45)
                                        ).strftime("%Y%m%dT%H%M%SZ")))
    ny = data.weekly_with_exdate_and_override("g-ny").replace("Europe/Berlin",
                                                              "America/New_York")
    texts.append(ny.replace("DTSTART;TZID=America/New_York:20261102T090000",
                            "DTSTART;TZID=America/New_York:20270301T090000").replace(
        "DTEND;TZID=America/New_York:20261102T100000",
        "DTEND;TZID=America/New_York:20270301T100000"))
    for text in texts:
        uid = str(icalendar.Calendar.from_ical(text).walk("VEVENT")[0]["UID"])
        put = requests.put(f"{calendar['caldavUrl']}{uid}.ics", data=text.encode(),
                           auth=("alice", PASSWORD), headers={"Content-Type": "text/calendar"})
        assert put.status_code == 201, put.text
    return calendar, texts


@pytest.mark.parametrize(("start", "end"), [
    ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"),
    ("2027-03-10T00:00:00Z", "2027-03-20T00:00:00Z"),   # across the US DST change
    ("2027-03-25T00:00:00Z", "2027-04-02T00:00:00Z"),   # across the EU DST change
    ("2026-12-05T00:00:00Z", "2026-12-06T00:00:00Z"),
])
def test_list_returns_exactly_the_instances_of_recurring_ical_events(
        env: Env, generated: tuple[dict, list[str]], start: str, end: str) -> None:
    calendar, texts = generated
    window = (dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end))
    expected = set()
    for text in texts:
        for event in recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
                *window):
            value = event.get("DTSTART").dt
            if isinstance(value, dt.datetime):
                value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
            expected.add((str(event["UID"]), value.isoformat()))
    listed = env.alice.get(EVENTS, params={"from": start, "to": end, "limit": 1000,
                                           "calendarId": calendar["id"]}).json()
    got = set()
    for event in listed["events"]:
        if "date" in event["start"]:
            got.add((event["iCalUID"], dt.date.fromisoformat(event["start"]["date"]).isoformat()))
        else:
            got.add((event["iCalUID"],
                     dt.datetime.fromisoformat(event["startUtc"].replace("Z", "+00:00"))
                     .isoformat()))
    assert got == expected
    assert listed["meta"]["totalCount"] == len(expected)


def test_list_pages_with_limit_and_offset(env: Env, generated: tuple[dict, list[str]]) -> None:
    calendar, _ = generated
    params = {"from": "2027-03-01T00:00:00Z", "to": "2027-03-20T00:00:00Z",
              "calendarId": calendar["id"], "limit": 5}
    first = env.alice.get(EVENTS, params=params).json()
    second = env.alice.get(EVENTS, params={**params, "offset": 5}).json()
    assert first["meta"]["hasMore"] and len(first["events"]) == 5
    assert not {e["id"] for e in first["events"]} & {e["id"] for e in second["events"]}
    assert_problem(env.alice.get(EVENTS, params={**params, "limit": 1001}), 400,
                   "VALIDATION_ERROR", "limit")


# -- validation and error codes of the seed ----------------------------------------------------

@pytest.mark.parametrize(("change", "field"), [
    ({"summary": None}, "summary"),
    ({"summary": "x" * 256}, "summary"),
    ({"description": "x" * 2001}, "description"),
    ({"location": "x" * 256}, "location"),
    ({"from": "not a date"}, "from"),
    ({"to": None}, "to"),
    ({"attendees": ["not-an-email"]}, "attendees"),
    ({"recurrence": ["RRULE:FREQ=SOMETIMES"]}, "recurrence"),
    ({"calendarId": "abc"}, "calendarId"),
    ({"unknown": 1}, "unknown"),
])
def test_create_validation_names_the_field(env: Env, change: dict, field: str) -> None:
    body = {"calendarId": env.calendar["id"], "summary": "x", "from": "2026-12-10T09:00:00Z",
            "to": "2026-12-10T10:00:00Z", **change}
    body = {k: v for k, v in body.items() if v is not None}
    assert_problem(env.alice.post(EVENTS, json=body), 400, "VALIDATION_ERROR", field)


def test_create_with_to_before_from_is_refused(env: Env) -> None:
    assert_problem(env.alice.post(EVENTS, json={
        "calendarId": env.calendar["id"], "summary": "x", "from": "2026-12-10T10:00:00Z",
        "to": "2026-12-10T09:00:00Z"}), 400, "VALIDATION_ERROR")


def test_a_calendar_id_beyond_the_stores_integers_is_refused_as_invalid(env: Env) -> None:
    too_big = 2**31  # PostgreSQL's INTEGER ends at 2**31 - 1
    assert_problem(env.alice.get(EVENTS, params={"calendarId": too_big}), 400,
                   "VALIDATION_ERROR", "calendarId")
    assert_problem(env.alice.get("/api/access/calendar/freebusy",
                                 params={"calendars": f"{env.calendar['id']},{too_big}"}),
                   400, "VALIDATION_ERROR", "calendars")
    assert_problem(env.alice.post(EVENTS, json={
        "calendarId": too_big, "summary": "x", "from": "2026-12-10T09:00:00Z",
        "to": "2026-12-10T10:00:00Z"}), 400, "VALIDATION_ERROR", "calendarId")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-01:00",
                                    "1850-06-01T00:00:00Z"])
def test_times_outside_the_supported_years_are_refused_as_invalid(env: Env, moment: str
                                                                   ) -> None:
    assert_problem(env.alice.get(EVENTS, params={"from": moment}), 400, "VALIDATION_ERROR",
                   "from")
    assert_problem(env.alice.post(EVENTS, json={
        "calendarId": env.calendar["id"], "summary": "x", "from": "2026-12-10T09:00:00Z",
        "to": moment}), 400, "VALIDATION_ERROR", "to")
    assert_problem(env.alice.get(f"/calendars/{env.calendar['id']}/slots", params={
        "from": moment, "to": "2026-12-10T09:00:00Z", "duration": 30}), 400,
        "VALIDATION_ERROR", "from")


def test_seed_error_codes(env: Env) -> None:
    reader = env.token("alice", "calendars:read")
    body = {"calendarId": env.calendar["id"], "summary": "x", "from": "2026-12-10T09:00:00Z",
            "to": "2026-12-10T10:00:00Z"}
    assert_problem(reader.post(EVENTS, json=body), 403, "ACCESS_DENIED")
    no_create = env.token("alice", "calendars:write", "--operations", "edit_title")
    assert_problem(no_create.post(EVENTS, json=body), 403, "TOKEN_DENIED")
    short = env.token("alice", "calendars:write", "--past-days", "1", "--future-days", "30")
    far = {**body, "from": "2030-01-01T09:00:00Z", "to": "2030-01-01T10:00:00Z"}
    assert_problem(short.post(EVENTS, json=far), 403, "TIMEFRAME_DENIED")
    assert_problem(env.alice.post(EVENTS, json={**body, "calendarId": 999999}), 404,
                   "CALENDAR_NOT_FOUND")
    # bob is a member: alice's calendar in the same workspace does not exist for him
    assert_problem(env.bob.post(EVENTS, json=body), 404, "CALENDAR_NOT_FOUND")
    listed = env.alice.with_token("cb_nope_nope").get(EVENTS)
    assert_problem(listed, 401, "AUTH_FAILED")


def test_patch_needs_the_operation_of_each_field(env: Env) -> None:
    created = create(env)
    titles_only = env.token("alice", "calendars:write", "--operations", "edit_title")
    path = f"{EVENTS}/{created['event']['id']}"
    assert titles_only.patch(path, json={"summary": "ok"}).status_code == 200
    assert_problem(titles_only.patch(path, json={"location": "no"}), 403, "TOKEN_DENIED")
    assert_problem(titles_only.delete(path), 403, "TOKEN_DENIED")


def test_timeframe_clamps_reads(env: Env) -> None:
    short = env.token("alice", "calendars:read", "--past-days", "0", "--future-days", "10")
    listed = short.get(EVENTS, params={"from": "2020-01-01T00:00:00Z",
                                       "to": "2030-01-01T00:00:00Z"}).json()
    assert listed["meta"]["truncated"] is True
    start = dt.datetime.fromisoformat(listed["meta"]["from"].replace("Z", "+00:00"))
    assert start >= dt.datetime.now(UTC) - dt.timedelta(minutes=5)


def test_calendar_with_schedules_refuses_events_outside_availability(env: Env) -> None:
    calendar = env.alice.post("/calendars", json={"name": "Office",
                                                  "timezone": "Europe/Berlin"}).json()
    env.alice.post(f"/calendars/{calendar['id']}/schedules", json={
        "name": "Hours", "daysOfWeek": ["MO", "TU", "WE", "TH", "FR"], "startTime": "09:00",
        "endTime": "17:00", "startDate": "2026-01-01"})
    inside = {"calendarId": calendar["id"], "summary": "ok", "from": "2026-12-10T09:00:00Z",
              "to": "2026-12-10T10:00:00Z"}
    assert env.alice.post(EVENTS, json=inside).status_code == 201
    outside = {**inside, "from": "2026-12-10T19:00:00Z", "to": "2026-12-10T20:00:00Z"}
    assert_problem(env.alice.post(EVENTS, json=outside), 409, "SLOT_UNAVAILABLE")


# -- preconditions and idempotency -----------------------------------------------------------

def test_if_match_with_a_stale_etag_gets_412(env: Env) -> None:
    created = create(env)
    path = f"{EVENTS}/{created['event']['id']}"
    assert_problem(env.alice.patch(path, json={"summary": "x"}, headers={"If-Match": '"old"'}),
                   412, "PRECONDITION_FAILED")
    assert_problem(env.alice.delete(path, headers={"If-Match": '"old"'}), 412,
                   "PRECONDITION_FAILED")
    assert env.alice.get(path).json()["event"]["summary"] == "Project Kickoff"


def test_idempotency_key_replays_the_first_answer(env: Env) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"calendarId": env.calendar["id"], "summary": "Once", "from": "2026-12-11T09:00:00Z",
            "to": "2026-12-11T10:00:00Z"}
    first = env.alice.post(EVENTS, json=body, headers=key)
    second = env.alice.post(EVENTS, json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() and second.headers["Idempotent-Replayed"] == "true"
    listed = env.alice.get(EVENTS, params={"from": "2026-12-11T00:00:00Z",
                                           "to": "2026-12-12T00:00:00Z",
                                           "calendarId": env.calendar["id"]}).json()
    assert [e["summary"] for e in listed["events"]].count("Once") == 1
    assert_problem(env.alice.post(EVENTS, json={**body, "summary": "Other"}, headers=key),
                   422, "IDEMPOTENCY_KEY_REUSED")


def test_send_notifications_false_queues_nothing(env: Env) -> None:
    created = create(env, attendees=["dora@example.org"], sendNotifications=False)
    assert created["notificationQueued"] is False
    outbox = cli_json(env.server, "outbox", "list")
    assert not any("dora@example.org" in m["recipients"] for m in outbox)


def test_instances_have_their_own_ids_and_can_be_fetched(env: Env) -> None:
    created = create(env, recurrence=["RRULE:FREQ=DAILY;COUNT=3"], summary="Standup")
    listed = env.alice.get(EVENTS, params={"from": "2026-12-10T00:00:00Z",
                                           "to": "2026-12-13T00:00:00Z",
                                           "calendarId": env.calendar["id"],
                                           "q": "standup"}).json()
    ids = [e["id"] for e in listed["events"]]
    assert len(ids) == 3 and all(i.startswith(created["event"]["id"] + "_") for i in ids)
    one = env.alice.get(f"{EVENTS}/{ids[1]}").json()["event"]
    assert one["startUtc"] == "2026-12-11T09:00:00Z"
    assert one["recurringEventId"] == created["event"]["id"]


def test_free_busy_counts_events_and_time_outside_schedules(env: Env) -> None:
    calendar = env.alice.post("/calendars", json={"name": "FB", "timezone": "UTC"}).json()
    env.alice.post(EVENTS, json={"calendarId": calendar["id"], "summary": "busy",
                                 "from": "2026-12-14T10:00:00Z", "to": "2026-12-14T11:00:00Z"})
    answer = env.alice.get("/api/access/calendar/freebusy", params={
        "from": "2026-12-14T00:00:00Z", "to": "2026-12-15T00:00:00Z",
        "calendars": str(calendar["id"])}).json()
    busy = answer["calendars"][0]["busy"]
    assert busy == [{"startUtc": "2026-12-14T10:00:00Z", "endUtc": "2026-12-14T11:00:00Z",
                     "durationMinutes": 60}]
    fb_only = env.token("alice", "calendars:read", "--access-level", "free_busy_only")
    assert fb_only.get("/api/access/calendar/freebusy", params={
        "from": "2026-12-14T00:00:00Z", "to": "2026-12-15T00:00:00Z"}).status_code == 200
    assert_problem(fb_only.get(EVENTS), 403, "ACCESS_DENIED")


def test_list_calendars_shows_what_the_token_may_use(env: Env) -> None:
    listed = env.bob.get("/api/access/calendar/calendars").json()
    ids = {c["id"] for c in listed["data"]}
    assert env.bob_calendar["id"] in ids and env.calendar["id"] not in ids
    assert listed["accessInfo"]
    admin = {c["id"] for c in env.alice.get("/api/access/calendar/calendars").json()["data"]}
    assert {env.calendar["id"], env.bob_calendar["id"]} <= admin  # alice is the admin


def test_a_write_to_an_instance_the_series_lacks_is_404_and_changes_nothing(env: Env) -> None:
    created = create(env, recurrence=["RRULE:FREQ=DAILY;COUNT=2"], summary="Series")
    missing = f"{created['event']['id']}_20261212T090000Z"  # the series ends on the 11th
    assert env.alice.get(f"{created['event']['id']}_20261210T090000Z".join(
        [f"{EVENTS}/", ""])).status_code == 200
    assert_problem(env.alice.patch(f"{EVENTS}/{missing}", json={"summary": "x"}), 404,
                   "EVENT_NOT_FOUND")
    assert_problem(env.alice.delete(f"{EVENTS}/{missing}"), 404, "EVENT_NOT_FOUND")
    series = env.alice.get(f"{EVENTS}/{created['event']['id']}").json()["event"]
    assert series["summary"] == "Series" and series["etag"] == created["event"]["etag"]


