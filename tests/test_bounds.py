"""Bounded work on every request, through the real server on both stores: dense and endless
series, long windows, the CalDAV limit properties and preconditions, and paging by token."""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

import icalendar
import pytest
import recurring_ical_events
import requests

from tests import caldav_data as data
from tests.api_helpers import Api, assert_problem, cli_json, make_token
from tests.conftest import PASSWORD, QUIET_AUTH, Server, store_env

UTC = dt.UTC
EVENTS = "/api/access/calendar/events"
FREEBUSY = "/api/access/calendar/freebusy"
NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav"}
NO_HANG = 60  # seconds: a generous timeout that only proves "answers", never "fast"


@dataclass
class Env:
    server: Server
    alice: Api
    calendar: dict

    def new_calendar(self) -> dict:
        response = self.alice.post("/calendars", json={"name": f"c-{uuid.uuid4().hex[:6]}"})
        assert response.status_code == 201, response.text
        return response.json()


def start_env(server: Server, name: str) -> Env:
    for user in ("alice", "bob"):
        server.add_user(user)
    workspace = cli_json(server, "workspace", "create", name, "--owner", "alice")["uuid"]
    alice = Api(server, workspace, make_token(server, "alice", workspace, "calendars:admin"))
    calendar = alice.post("/calendars", json={"name": name}).json()
    return Env(server, alice, calendar)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
        backend: str) -> Iterator[Env]:
    """A server whose REST lists may span 110 years (the default is 10): long windows are
    answered page by page."""
    server = Server(tmp_path_factory.mktemp(f"bounds-{backend}"), extra_env={
        **QUIET_AUTH, **store_env(request, backend), "CALBRIDGE_LIMITS_MAX_LIST_DAYS": "40200"})
    server.start()
    try:
        yield start_env(server, "Bounds")
    finally:
        server.stop()


@pytest.fixture(scope="module")
def thrifty(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
            backend: str) -> Iterator[Env]:
    """A server that may expand only 300 instances per request: pages come out short."""
    server = Server(tmp_path_factory.mktemp(f"thrifty-{backend}"), extra_env={
        **QUIET_AUTH, **store_env(request, backend),
        "CALBRIDGE_LIMITS_MAX_INSTANCES_PER_REQUEST": "300"})
    server.start()
    try:
        yield start_env(server, "Thrifty")
    finally:
        server.stop()


def put(calendar: dict, text: str, name: str | None = None) -> requests.Response:
    uid = name or str(icalendar.Calendar.from_ical(text).walk("VEVENT")[0]["UID"])
    return requests.put(f"{calendar['caldavUrl']}{uid}.ics", data=text.encode(),
                        auth=("alice", PASSWORD), headers={"Content-Type": "text/calendar"},
                        timeout=NO_HANG)


def endless(uid: str, freq: str, start: str = "20260101T000000Z") -> str:
    return (f"{data.HEADER}BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART:{start}\r\nDURATION:PT1S\r\nRRULE:FREQ={freq}\r\nSUMMARY:{uid}\r\n"
            f"END:VEVENT\r\n{data.FOOTER}")


def fmt(value: dt.datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%SZ")


def expand_report(calendar: dict, start: dt.datetime, end: dt.datetime) -> requests.Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f'<D:prop><D:getetag/><C:calendar-data><C:expand start="{fmt(start)}" '
        f'end="{fmt(end)}"/></C:calendar-data></D:prop>'
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{fmt(start)}" end="{fmt(end)}"/>'
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>")
    return requests.request("REPORT", calendar["caldavUrl"], data=body.encode(),
                            auth=("alice", PASSWORD), timeout=NO_HANG,
                            headers={"Depth": "1", "Content-Type": "application/xml"})


def time_range_report(calendar: dict, start: dt.datetime, end: dt.datetime
                      ) -> requests.Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        "<D:prop><D:getetag/></D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{fmt(start)}" end="{fmt(end)}"/>'
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>")
    response = requests.request("REPORT", calendar["caldavUrl"], data=body.encode(),
                                auth=("alice", PASSWORD), timeout=NO_HANG,
                                headers={"Depth": "1", "Content-Type": "application/xml"})
    assert response.status_code == 207, response.text
    return response


def precondition(response: requests.Response) -> str:
    """The one precondition element of a 403 DAV:error body, as "C:name" or "D:name"."""
    assert response.status_code == 403, response.text
    (element,) = list(ET.fromstring(response.content))
    prefix = "C" if element.tag.startswith(f"{{{NS['C']}}}") else "D"
    return f"{prefix}:{element.tag.rsplit('}', 1)[1]}"


def listed_keys(events: list[dict]) -> list[tuple[str, str]]:
    out = []
    for event in events:
        if "date" in event["start"]:
            out.append((event["iCalUID"], event["start"]["date"].replace("-", "")))
        else:
            moment = dt.datetime.fromisoformat(event["startUtc"].replace("Z", "+00:00"))
            out.append((event["iCalUID"], fmt(moment)))
    return out


def expected_keys(texts: list[str], start: dt.datetime, end: dt.datetime
                  ) -> list[tuple[str, str]]:
    """What recurring-ical-events finds over the same data, in start order."""
    found = []
    for text in texts:
        for event in recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
                start, end):
            value = event["DTSTART"].dt
            if isinstance(value, dt.datetime):
                moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
                found.append((moment, (str(event["UID"]), fmt(moment))))
            else:
                moment = dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
                found.append((moment, (str(event["UID"]), value.strftime("%Y%m%d"))))
    return [key for _, key in sorted(found)]


# -- dense and endless series --------------------------------------------------------------------

@pytest.mark.parametrize("freq", ["MINUTELY", "SECONDLY"])
def test_an_endless_dense_series_is_stored_at_once_and_the_server_stays_responsive(
        env: Env, freq: str) -> None:
    calendar = env.new_calendar()
    assert put(calendar, endless(f"endless-{freq}", freq)).status_code == 201
    assert requests.get(f"{env.server.url}/api/health", timeout=NO_HANG).status_code == 200
    # A week of it is more than one series may expand: refused, in REST and CalDAV alike.
    week = (dt.datetime(2026, 6, 1, tzinfo=UTC), dt.datetime(2026, 6, 8, tzinfo=UTC))
    assert precondition(expand_report(calendar, *week)) == "C:max-instances"
    assert_problem(env.alice.get(FREEBUSY, params={
        "from": "2026-06-01T00:00:00Z", "to": "2026-06-08T00:00:00Z",
        "calendars": str(calendar["id"])}, timeout=NO_HANG), 400, "TOO_MANY_INSTANCES")
    assert_problem(env.alice.get(f"/calendars/{calendar['id']}/slots", params={
        "from": "2026-06-01T00:00:00Z", "to": "2026-06-08T00:00:00Z", "duration": 30},
        timeout=NO_HANG), 400, "TOO_MANY_INSTANCES")
    # A time-range query far past the indexed horizon is decided without walking the rule.
    decades = (dt.datetime(2090, 1, 1, tzinfo=UTC), dt.datetime(2090, 1, 1, 0, 0, 5, tzinfo=UTC))
    assert len(ET.fromstring(time_range_report(calendar, *decades).content)) == 1
    # A list pages through it: 50 instances and a token, whatever the window.
    listed = env.alice.get(EVENTS, params={
        "from": "2026-06-01T00:00:00Z", "to": "2126-06-01T00:00:00Z",
        "calendarId": calendar["id"]}, timeout=NO_HANG).json()
    assert listed["meta"]["count"] == 50 and listed["meta"]["hasMore"]
    assert listed["meta"]["nextPageToken"]
    step = dt.timedelta(minutes=1) if freq == "MINUTELY" else dt.timedelta(seconds=1)
    first = dt.datetime(2026, 6, 1, tzinfo=UTC)
    assert listed_keys(listed["events"]) == [
        (f"endless-{freq}", fmt(first + i * step)) for i in range(50)]


def test_an_expand_report_within_the_limits_is_answered(env: Env) -> None:
    calendar = env.new_calendar()
    assert put(calendar, endless("hourly", "MINUTELY")).status_code == 201
    hour = (dt.datetime(2030, 1, 1, tzinfo=UTC), dt.datetime(2030, 1, 1, 1, tzinfo=UTC))
    response = expand_report(calendar, *hour)
    assert response.status_code == 207
    text = ET.fromstring(response.content).find(".//C:calendar-data", NS).text
    assert text.count("BEGIN:VEVENT") == 60 and "RRULE" not in text


def test_an_expand_report_over_more_instances_than_one_request_may_expand_is_refused(
        env: Env) -> None:
    calendar = env.new_calendar()
    for uid in ("dense-a", "dense-b"):  # 7200 instances each in five days: 14,400 in all
        assert put(calendar, endless(uid, "MINUTELY")).status_code == 201
    days = (dt.datetime(2027, 1, 1, tzinfo=UTC), dt.datetime(2027, 1, 6, tzinfo=UTC))
    assert precondition(expand_report(calendar, *days)) == "D:number-of-matches-within-limits"


@pytest.mark.parametrize(("start", "end", "expected"), [
    (dt.datetime(1899, 12, 1, tzinfo=UTC), dt.datetime(1900, 2, 1, tzinfo=UTC),
     "C:min-date-time"),
    (dt.datetime(2999, 12, 1, tzinfo=UTC), dt.datetime(3000, 2, 1, tzinfo=UTC),
     "C:max-date-time"),
])
def test_an_expand_window_outside_the_supported_years_names_the_precondition(
        env: Env, start: dt.datetime, end: dt.datetime, expected: str) -> None:
    assert precondition(expand_report(env.calendar, start, end)) == expected


# -- CalDAV limit properties and PUT preconditions -------------------------------------------------

def test_propfind_shows_max_instances_and_the_supported_date_times(env: Env) -> None:
    body = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:max-instances/>'
            "<C:min-date-time/><C:max-date-time/></D:prop></D:propfind>")
    response = requests.request("PROPFIND", env.calendar["caldavUrl"], data=body,
                                auth=("alice", PASSWORD), headers={"Depth": "0"})
    assert response.status_code == 207
    prop = ET.fromstring(response.content).find(".//D:prop", NS)
    assert prop.findtext("C:max-instances", namespaces=NS) == "10000"
    assert prop.findtext("C:min-date-time", namespaces=NS) == "19000101T000000Z"
    assert prop.findtext("C:max-date-time", namespaces=NS) == "29991231T235959Z"


def timed_event(uid: str, lines: str) -> str:
    return (f"{data.HEADER}BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n{lines}"
            f"SUMMARY:{uid}\r\nEND:VEVENT\r\n{data.FOOTER}")


@pytest.mark.parametrize(("lines", "expected"), [
    ("DTSTART:18500101T100000Z\r\nDTEND:18500101T110000Z\r\n", "C:min-date-time"),
    ("DTSTART:30010101T100000Z\r\nDTEND:30010101T110000Z\r\n", "C:max-date-time"),
    ("DTSTART:20260101T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;UNTIL=30500101T000000Z\r\n",
     "C:max-date-time"),
    ("DTSTART:20260101T100000Z\r\nDURATION:PT1M\r\nRRULE:FREQ=MINUTELY;COUNT=20000\r\n",
     "C:max-instances"),
    ("DTSTART:20260101T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\r\n",
     "C:valid-calendar-data"),
], ids=["before-1900", "after-2999", "until-after-2999", "count-over-max-instances",
        "never-matches"])
def test_a_put_outside_the_limits_is_refused_with_its_precondition_and_stores_nothing(
        env: Env, lines: str, expected: str) -> None:
    uid = f"refused-{uuid.uuid4().hex[:8]}"
    assert precondition(put(env.calendar, timed_event(uid, lines))) == expected
    assert requests.get(f"{env.calendar['caldavUrl']}{uid}.ics",
                        auth=("alice", PASSWORD)).status_code == 404


@pytest.mark.parametrize(("recurrence", "code"), [
    (["RRULE:FREQ=MINUTELY;COUNT=20000"], "TOO_MANY_INSTANCES"),
    (["RRULE:FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31"], "VALIDATION_ERROR"),
    (["RRULE:FREQ=DAILY;UNTIL=30500101T000000Z"], "VALIDATION_ERROR"),
])
def test_rest_writes_keep_the_same_limits(env: Env, recurrence: list[str], code: str) -> None:
    assert_problem(env.alice.post(EVENTS, json={
        "calendarId": env.calendar["id"], "summary": "x", "from": "2026-12-10T09:00:00Z",
        "to": "2026-12-10T09:01:00Z", "recurrence": recurrence}), 400, code)


# -- REST windows -------------------------------------------------------------------------------

def test_rest_windows_longer_than_the_configured_days_are_refused(env: Env) -> None:
    assert_problem(env.alice.get(EVENTS, params={"from": "1900-01-01T00:00:00Z",
                                                 "to": "2999-01-01T00:00:00Z"}),
                   400, "WINDOW_TOO_LARGE")
    assert_problem(env.alice.get(FREEBUSY, params={"from": "2026-01-01T00:00:00Z",
                                                   "to": "2027-01-03T00:00:00Z"}),
                   400, "WINDOW_TOO_LARGE")


def test_offset_paging_is_bounded_by_the_instances_one_request_may_expand(env: Env) -> None:
    assert_problem(env.alice.get(EVENTS, params={"offset": 9500, "limit": 1000}), 400,
                   "VALIDATION_ERROR", "offset")


def test_a_page_token_of_another_query_is_refused(env: Env) -> None:
    calendar = env.new_calendar()
    assert put(calendar, data.open_ended_daily("tokened")).status_code == 201
    params = {"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z",
              "calendarId": calendar["id"], "limit": 3}
    token = env.alice.get(EVENTS, params=params).json()["meta"]["nextPageToken"]
    assert_problem(env.alice.get(EVENTS, params={**params, "to": "2028-01-01T00:00:00Z",
                                                 "pageToken": token}),
                   400, "VALIDATION_ERROR", "pageToken")
    assert_problem(env.alice.get(EVENTS, params={**params, "pageToken": "bm90IGEgdG9rZW4"}),
                   400, "VALIDATION_ERROR", "pageToken")
    assert_problem(env.alice.get(EVENTS, params={**params, "pageToken": token, "offset": 3}),
                   400, "VALIDATION_ERROR", "offset")


# -- paging by token equals the full expansion ----------------------------------------------

def overridden_daily(uid: str) -> str:
    """Daily at 09:00 Berlin from 2026-03-20 (across the DST change), one day excluded, one
    moved onto the next day's start, one cancelled."""
    return (
        f"{data.HEADER}{data.BERLIN}"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART;TZID=Europe/Berlin:20260320T090000\r\n"
        "DTEND;TZID=Europe/Berlin:20260320T100000\r\nRRULE:FREQ=DAILY;COUNT=40\r\n"
        "EXDATE;TZID=Europe/Berlin:20260325T090000\r\nSUMMARY:standup\r\nEND:VEVENT\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        "RECURRENCE-ID;TZID=Europe/Berlin:20260401T090000\r\n"
        "DTSTART;TZID=Europe/Berlin:20260402T090000\r\n"
        "DTEND;TZID=Europe/Berlin:20260402T093000\r\nSUMMARY:standup (moved)\r\nEND:VEVENT\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        "RECURRENCE-ID;TZID=Europe/Berlin:20260410T090000\r\n"
        "DTSTART;TZID=Europe/Berlin:20260410T090000\r\n"
        "DTEND;TZID=Europe/Berlin:20260410T100000\r\nSUMMARY:standup\r\nSTATUS:CANCELLED\r\n"
        f"END:VEVENT\r\n{data.FOOTER}")


PAGED = [
    overridden_daily("standup"),
    data.weekly_with_exdate_and_override("weekly"),
    data.open_ended_daily("daily", start="20190101T120000Z"),
    data.yearly_all_day("birthday"),
    data.single_event("long", "20260315T000000Z", "20260420T000000Z"),  # begins before
    data.single_event("same-start", "20260402T070000Z", "20260402T080000Z"),
    endless("hourly", "HOURLY", start="20260401T000000Z").replace("DURATION:PT1S",
                                                                  "DURATION:PT10M"),
]
PAGED_WINDOW = (dt.datetime(2026, 3, 25, tzinfo=UTC), dt.datetime(2026, 4, 4, tzinfo=UTC))


def walk_pages(api: Api, params: dict, first_limit: int | None = None
               ) -> tuple[list[dict], list[dict]]:
    """Every page of a list, following nextPageToken: (events, metas)."""
    events, metas = [], []
    response = api.get(EVENTS, params={**params, "limit": first_limit or params["limit"]},
                       timeout=NO_HANG)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        events += body["events"]
        metas.append(body["meta"])
        if not body["meta"]["hasMore"]:
            return events, metas
        response = api.get(EVENTS, params={**params, "pageToken": body["meta"]["nextPageToken"]},
                           timeout=NO_HANG)


@pytest.fixture(scope="module")
def paged(env: Env) -> dict:
    calendar = env.new_calendar()
    for text in PAGED:
        assert put(calendar, text).status_code == 201
    return calendar


@pytest.mark.parametrize("limit", [1, 7, 1000])
def test_walking_every_page_returns_exactly_the_full_expansion(env: Env, paged: dict,
                                                               limit: int) -> None:
    params = {"from": PAGED_WINDOW[0].isoformat(), "to": PAGED_WINDOW[1].isoformat(),
              "calendarId": paged["id"], "limit": limit, "includeCancelled": "true"}
    events, metas = walk_pages(env.alice, params)
    expected = expected_keys(PAGED, *PAGED_WINDOW)
    assert sorted(listed_keys(events)) == sorted(expected)  # no gap, no duplicate
    assert [k[1] for k in listed_keys(events)] == sorted(k[1] for k in listed_keys(events))
    assert metas[-1]["totalCount"] == len(expected)
    assert all(m["count"] == limit for m in metas[:-1])


def test_offset_pages_and_token_pages_agree(env: Env, paged: dict) -> None:
    params = {"from": PAGED_WINDOW[0].isoformat(), "to": PAGED_WINDOW[1].isoformat(),
              "calendarId": paged["id"], "limit": 9}
    by_token, _ = walk_pages(env.alice, params)
    by_offset, offset = [], 0
    while True:
        body = env.alice.get(EVENTS, params={**params, "offset": offset}).json()
        by_offset += body["events"]
        if not body["meta"]["hasMore"]:
            break
        offset += 9
    assert [e["id"] for e in by_offset] == [e["id"] for e in by_token]
    assert ("standup", "20260410T070000Z") not in listed_keys(by_token)  # cancelled: hidden


def test_a_century_is_paged_with_each_page_bounded(env: Env, paged: dict) -> None:
    params = {"from": "1926-01-01T00:00:00Z", "to": "2026-03-27T00:00:00Z",
              "calendarId": paged["id"], "limit": 100}
    first = env.alice.get(EVENTS, params=params, timeout=NO_HANG).json()
    assert first["meta"]["count"] == 100 and first["meta"]["hasMore"]
    assert listed_keys(first["events"])[0] == ("daily", "20190101T120000Z")
    assert first["meta"]["totalCount"] == 101  # a lower bound until the last page


def test_short_pages_within_a_small_budget_still_add_up_to_the_full_expansion(
        thrifty: Env) -> None:
    calendar = thrifty.new_calendar()
    for text in PAGED:
        assert put(calendar, text).status_code == 201
    # A month in which the hourly series (from April) fills the budget of 300 instances
    # before 20 stand-ups are found.
    month = (PAGED_WINDOW[0], dt.datetime(2026, 5, 1, tzinfo=UTC))
    params = {"from": month[0].isoformat(), "to": month[1].isoformat(),
              "calendarId": calendar["id"], "limit": 20, "q": "standup"}
    events, metas = walk_pages(thrifty.alice, params, first_limit=2)
    expected = [k for k in expected_keys(PAGED[:1], *month)
                if k != ("standup", "20260410T070000Z")]  # the cancelled instance
    assert listed_keys(events) == expected
    assert any(m["count"] < 20 for m in metas[1:-1])
    # Offset paging cannot go on from a short page: it is refused instead.
    assert_problem(thrifty.alice.get(EVENTS, params=params), 400, "TOO_MANY_INSTANCES")
