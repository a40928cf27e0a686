"""Subscription feeds (/ics/<token>.ics) and their management API, through the real server."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import time
import uuid

import icalendar
import pytest
import recurring_ical_events
import requests

from bridge.core.bundle import bundle_calendar, stream_calendar
from bridge.feeds import Validators, not_modified
from tests.api_helpers import Api, WorkspaceClients, assert_problem
from tests.caldav_data import (
    BERLIN,
    FOOTER,
    HEADER,
    open_ended_daily,
    single_event,
    todo,
    weekly_with_exdate_and_override,
    yearly_all_day,
)
from tests.conftest import PASSWORD, Server

NEW_YORK = """BEGIN:VTIMEZONE\r
TZID:America/New_York\r
BEGIN:DAYLIGHT\r
DTSTART:20070311T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r
TZOFFSETFROM:-0500\r
TZOFFSETTO:-0400\r
TZNAME:EDT\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
DTSTART:20071104T020000\r
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r
TZOFFSETFROM:-0400\r
TZOFFSETTO:-0500\r
TZNAME:EST\r
END:STANDARD\r
END:VTIMEZONE\r
"""
PRIVATE = ("LOCATION:Secret bunker, Main street 5\r\nDESCRIPTION:Merger plans\r\n"
           "ORGANIZER:mailto:alice@example.com\r\n"
           "ATTENDEE;CN=Bob Example;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n")


Env = WorkspaceClients


@pytest.fixture(scope="module")
def env(api_server: Server) -> Env:
    return WorkspaceClients.create(api_server, "Feeds")


def new_calendar(env: Env, **fields: object) -> dict:
    response = env.admin.post("/calendars", json={"name": f"feed {uuid.uuid4().hex[:6]}",
                                                  **fields})
    assert response.status_code == 201, response.text
    return response.json()


def put_object(calendar: dict, href: str, text: str) -> None:
    response = requests.put(calendar["caldavUrl"] + href, data=text.encode(),
                            auth=("alice", PASSWORD),
                            headers={"Content-Type": "text/calendar; charset=utf-8"})
    assert response.status_code in (201, 204), response.text


def new_feed(env: Env, calendar: dict, **body: object) -> dict:
    response = env.admin.post(f"/calendars/{calendar['id']}/feeds", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def fetch(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers)


def stamp(value: dt.datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%SZ")


def day(value: dt.date) -> str:
    return value.strftime("%Y%m%d")


def berlin_event(uid: str, start: str, end: str) -> str:
    return (f"{HEADER}{BERLIN}BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART;TZID=Europe/Berlin:{start}\r\nDTEND;TZID=Europe/Berlin:{end}\r\n"
            f"SUMMARY:{uid}\r\nEND:VEVENT\r\n{FOOTER}")


def new_york_event(uid: str) -> str:
    return (f"{HEADER}{NEW_YORK}BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
            "DTSTART;TZID=America/New_York:20261203T090000\r\n"
            "DTEND;TZID=America/New_York:20261203T093000\r\n"
            f"RRULE:FREQ=DAILY;COUNT=5\r\nSUMMARY:{uid}\r\n{PRIVATE}END:VEVENT\r\n{FOOTER}")


def instances(text: str, start: dt.datetime, end: dt.datetime) -> set[tuple[str, str, str, str]]:
    cal = icalendar.Calendar.from_ical(text)

    def utc(value: dt.date | dt.datetime) -> str:
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).isoformat()
        return value.isoformat()

    return {(str(c["UID"]), utc(c["DTSTART"].dt), utc(c["DTEND"].dt) if "DTEND" in c else "",
             str(c.get("SUMMARY", "")))
            for c in recurring_ical_events.of(cal).between(start, end)}


@pytest.fixture(scope="module")
def rich_calendar(env: Env) -> dict:
    """Recurring series with EXDATE and override, two zones (Berlin twice), all-day, a to-do."""
    calendar = new_calendar(env, timezone="Europe/Berlin", description="Team calendar")
    put_object(calendar, "weekly.ics", weekly_with_exdate_and_override("weekly-1"))
    put_object(calendar, "berlin.ics", berlin_event("berlin-1", "20261126T140000",
                                                    "20261126T150000"))
    put_object(calendar, "ny.ics", new_york_event("ny-1"))
    put_object(calendar, "single.ics", single_event("single-1", "20261125T100000Z",
                                                    "20261125T110000Z", PRIVATE))
    put_object(calendar, "daily.ics", open_ended_daily("daily-1", "20261101T070000Z"))
    put_object(calendar, "yearly.ics", yearly_all_day("yearly-1"))
    put_object(calendar, "todo.ics", todo("todo-1", "20261130T100000Z"))
    return calendar


# -- the full feed ---------------------------------------------------------------------------


def test_full_feed_yields_the_instances_of_the_calendar_over_caldav(
        env: Env, rich_calendar: dict) -> None:
    feed = new_feed(env, rich_calendar, includePrivate=True)
    answer = fetch(feed["url"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "text/calendar; charset=utf-8"
    over_caldav = requests.get(rich_calendar["caldavUrl"], auth=("alice", PASSWORD))
    assert over_caldav.status_code == 200
    for start, end in ((dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
                        dt.datetime(2027, 3, 1, tzinfo=dt.UTC)),
                       (dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
                        dt.datetime(2026, 11, 24, tzinfo=dt.UTC))):
        ours = instances(answer.text, start, end)
        assert ours == instances(over_caldav.text, start, end)
        assert ours
    cal = icalendar.Calendar.from_ical(answer.text)
    assert {str(c["UID"]) for c in cal.walk("VTODO")} == {"todo-1"}
    assert str(cal["VERSION"]) == "2.0" and str(cal["PRODID"])
    assert str(cal["X-WR-CALNAME"]) == rich_calendar["name"]
    assert str(cal["X-WR-CALDESC"]) == "Team calendar"
    assert str(cal["X-WR-TIMEZONE"]) == "Europe/Berlin"
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in answer.text
    assert "X-PUBLISHED-TTL:PT1H\r\n" in answer.text
    zones = [str(z["TZID"]) for z in cal.walk("VTIMEZONE")]
    assert sorted(zones) == ["America/New_York", "Europe/Berlin"]
    # every VTIMEZONE comes before the first component that may use it
    assert answer.text.rindex("END:VTIMEZONE") < answer.text.index("BEGIN:VEVENT")
    # with includePrivate, the attendees, alarms and X-properties of the objects are all there
    assert "X-CLIENT-PROP:kept" in answer.text and "BEGIN:VALARM" in answer.text
    assert "mailto:bob@example.com" in answer.text


def test_head_answers_like_get_without_a_body(env: Env, rich_calendar: dict) -> None:
    feed = new_feed(env, rich_calendar)
    got = fetch(feed["url"])
    head = requests.head(feed["url"])
    assert head.status_code == 200 and head.content == b""
    assert head.headers["ETag"] == got.headers["ETag"]
    assert head.headers["Content-Type"] == got.headers["Content-Type"]


def test_caldav_and_api_changes_appear_in_the_next_fetch(env: Env) -> None:
    calendar = new_calendar(env)
    put_object(calendar, "first.ics", single_event("first", "20261201T100000Z",
                                                   "20261201T110000Z"))
    feed = new_feed(env, calendar)
    first = fetch(feed["url"])
    assert "UID:first" in first.text and "UID:second" not in first.text

    put_object(calendar, "second.ics", single_event("second", "20261202T100000Z",
                                                    "20261202T110000Z"))
    second = fetch(feed["url"], **{"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200
    assert "UID:second" in second.text and second.headers["ETag"] != first.headers["ETag"]

    created = env.writer.post("/api/access/calendar/events", json={
        "calendarId": calendar["id"], "summary": "Made through the API",
        "from": "2026-12-03T10:00:00Z", "to": "2026-12-03T11:00:00Z",
        "sendNotifications": False})
    assert created.status_code == 201, created.text
    third = fetch(feed["url"], **{"If-None-Match": second.headers["ETag"]})
    assert third.status_code == 200 and "SUMMARY:Made through the API" in third.text

    requests.delete(calendar["caldavUrl"] + "first.ics", auth=("alice", PASSWORD))
    fourth = fetch(feed["url"], **{"If-None-Match": third.headers["ETag"]})
    assert fourth.status_code == 200 and "UID:first" not in fourth.text


def test_a_current_etag_or_date_gets_304(env: Env) -> None:
    calendar = new_calendar(env)
    put_object(calendar, "one.ics", single_event("one", "20261201T100000Z", "20261201T110000Z"))
    feed = new_feed(env, calendar)
    time.sleep(1.1)  # Last-Modified never names the second of the latest change
    full = fetch(feed["url"])
    etag, last_modified = full.headers["ETag"], full.headers["Last-Modified"]
    assert full.headers["Cache-Control"] == "private, no-cache"
    assert "Accept-Encoding" in full.headers["Vary"]

    by_etag = fetch(feed["url"], **{"If-None-Match": etag})
    assert by_etag.status_code == 304 and by_etag.content == b""
    assert by_etag.headers["ETag"] == etag
    assert fetch(feed["url"], **{"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    by_date = fetch(feed["url"], **{"If-Modified-Since": last_modified})
    assert by_date.status_code == 304
    # If-None-Match decides when both are sent (RFC 9110 13.2.2)
    assert fetch(feed["url"], **{"If-None-Match": '"stale"',
                                 "If-Modified-Since": last_modified}).status_code == 200

    env.admin.put(f"/calendars/{calendar['id']}", json={"name": "Renamed"})
    renamed = fetch(feed["url"], **{"If-None-Match": etag})
    assert renamed.status_code == 200 and "X-WR-CALNAME:Renamed" in renamed.text
    assert fetch(feed["url"], **{"If-Modified-Since": "Thu, 01 Jan 2015 00:00:00 GMT"}
                 ).status_code == 200


def test_gzip_when_asked(env: Env, rich_calendar: dict) -> None:
    feed = new_feed(env, rich_calendar)
    plain = fetch(feed["url"], **{"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    for _ in range(2):  # streamed, then from the body cache
        packed = requests.get(feed["url"], headers={"Accept-Encoding": "gzip"}, stream=True)
        raw = packed.raw.read(decode_content=False)
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert gzip.decompress(raw) == plain.content
    assert packed.headers["ETag"] != plain.headers["ETag"]  # another representation
    for etag in (packed.headers["ETag"], plain.headers["ETag"]):
        assert fetch(feed["url"], **{"Accept-Encoding": "gzip",
                                     "If-None-Match": etag}).status_code == 304
    refused = fetch(feed["url"], **{"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


def test_windows_narrow_the_full_feed(env: Env) -> None:
    today = dt.datetime.now(dt.UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    calendar = new_calendar(env)
    for name, offset in (("long-ago", -100), ("soon", 5), ("far-ahead", 400)):
        start = today + dt.timedelta(days=offset)
        put_object(calendar, f"{name}.ics",
                   single_event(name, stamp(start), stamp(start + dt.timedelta(hours=1))))
    put_object(calendar, "forever.ics", open_ended_daily("forever", stamp(today.replace(
        year=today.year - 3))))
    unbounded = new_feed(env, calendar)
    everything = fetch(unbounded["url"]).text
    assert all(f"UID:{uid}" in everything for uid in ("long-ago", "soon", "far-ahead"))
    narrowed = fetch(unbounded["url"] + "?pastDays=30&futureDays=30&_=cachebuster")
    assert narrowed.status_code == 200
    assert "UID:soon" in narrowed.text and "UID:forever" in narrowed.text
    assert "UID:long-ago" not in narrowed.text and "UID:far-ahead" not in narrowed.text
    assert narrowed.headers["ETag"] != fetch(unbounded["url"]).headers["ETag"]

    own_window = new_feed(env, calendar, windowPastDays=10, windowFutureDays=500)
    assert own_window["windowPastDays"] == 10
    widened = fetch(own_window["url"] + "?pastDays=365").text  # never wider than the feed's
    assert "UID:long-ago" not in widened and "UID:far-ahead" in widened

    for query in ("pastDays=-1", "futureDays=abc", "pastDays=99999"):
        assert_problem(fetch(f"{unbounded['url']}?{query}"), 400, "VALIDATION_ERROR")


# -- the free/busy feed ----------------------------------------------------------------------


def test_freebusy_feed_shows_only_merged_busy_periods(env: Env) -> None:
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    at = lambda days, hours: today + dt.timedelta(days=days, hours=hours)  # noqa: E731
    calendar = new_calendar(env, timezone="Europe/Berlin")
    put_object(calendar, "dentist.ics", single_event(
        "dentist-appointment", stamp(at(1, 10)), stamp(at(1, 11)), PRIVATE).replace(
            "SUMMARY:dentist-appointment", "SUMMARY:Dentist appointment"))
    put_object(calendar, "overlap.ics", single_event("overlap", stamp(at(1, 10.5)),
                                                     stamp(at(1, 12))))
    put_object(calendar, "free.ics", single_event("free", stamp(at(2, 9)), stamp(at(2, 10)),
                                                  "TRANSP:TRANSPARENT\r\n"))
    put_object(calendar, "cancelled.ics", single_event("cancelled", stamp(at(3, 9)),
                                                       stamp(at(3, 10)), "STATUS:CANCELLED\r\n"))
    put_object(calendar, "past.ics", single_event("past", stamp(at(-60, 9)), stamp(at(-60, 10))))
    put_object(calendar, "future.ics", single_event("future", stamp(at(400, 9)),
                                                    stamp(at(400, 10))))
    holiday = (today + dt.timedelta(days=4)).date()
    put_object(calendar, "holiday.ics", (
        f"{HEADER}BEGIN:VEVENT\r\nUID:holiday\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{day(holiday)}\r\n"
        f"DTEND;VALUE=DATE:{day(holiday + dt.timedelta(days=2))}\r\n"
        f"SUMMARY:Vacation in Rome\r\nEND:VEVENT\r\n{FOOTER}"))
    put_object(calendar, "weekly.ics", (
        f"{HEADER}BEGIN:VEVENT\r\nUID:weekly-standup\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{stamp(at(-7, 15))}\r\nDTEND:{stamp(at(-7, 16))}\r\n"
        f"RRULE:FREQ=WEEKLY;COUNT=10\r\nSUMMARY:Weekly standup\r\n{PRIVATE}"
        f"END:VEVENT\r\n{FOOTER}"))
    feed = new_feed(env, calendar, kind="freebusy")
    assert feed["kind"] == "freebusy"
    answer = fetch(feed["url"])
    assert answer.status_code == 200, answer.text
    text = answer.text
    for secret in ("Dentist", "Secret bunker", "Merger", "bob@example.com", "alice@example.com",
                   "Vacation", "standup", "dentist-appointment", "weekly-standup"):
        assert secret not in text
    lines = [line.split(":", 1)[0].split(";", 1)[0] for line in text.split("\r\n") if line]
    assert not {"LOCATION", "DESCRIPTION", "ATTENDEE", "ORGANIZER", "VALARM"} & set(lines)
    assert {line for line in text.split("\r\n") if line.startswith("SUMMARY")} == \
        {"SUMMARY:Busy"}

    cal = icalendar.Calendar.from_ical(text)
    assert str(cal["X-WR-CALNAME"]).endswith("(busy)")
    assert str(cal["X-WR-TIMEZONE"]) == "Europe/Berlin"
    events = cal.walk("VEVENT")
    assert all(str(e["TRANSP"]) == "OPAQUE" for e in events)
    timed = sorted((e["DTSTART"].dt, e["DTEND"].dt) for e in events
                   if isinstance(e["DTSTART"].dt, dt.datetime))
    all_day = [(e["DTSTART"].dt, e["DTEND"].dt) for e in events
               if not isinstance(e["DTSTART"].dt, dt.datetime)]
    weekly = [(at(-7 + 7 * k, 15), at(-7 + 7 * k, 16)) for k in range(10)]
    assert timed == sorted([(at(1, 10), at(1, 12)), *weekly])
    assert all_day == [(holiday, holiday + dt.timedelta(days=2))]
    assert len({str(e["UID"]) for e in events}) == len(events)
    # a second fetch is byte-identical (stable UIDs and DTSTAMPs), and 304 with its ETag
    again = fetch(feed["url"])
    assert again.content == answer.content
    assert fetch(feed["url"], **{"If-None-Match": answer.headers["ETag"]}).status_code == 304


def test_freebusy_window_follows_the_feed(env: Env) -> None:
    today = dt.datetime.now(dt.UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    calendar = new_calendar(env)
    for name, offset in (("in-two-days", 2), ("in-ten-days", 10)):
        start = today + dt.timedelta(days=offset)
        put_object(calendar, f"{name}.ics", single_event(name, stamp(start),
                                                         stamp(start + dt.timedelta(hours=1))))
    feed = new_feed(env, calendar, kind="freebusy", windowPastDays=0, windowFutureDays=5)
    events = icalendar.Calendar.from_ical(fetch(feed["url"]).text).walk("VEVENT")
    assert [e["DTSTART"].dt for e in events] == [today + dt.timedelta(days=2)]


# -- lifecycle and access ----------------------------------------------------------------------


def test_create_list_get_rotate_revoke(env: Env) -> None:
    calendar = new_calendar(env)
    base = f"/calendars/{calendar['id']}/feeds"
    created = env.admin.post(base, json={"kind": "full"})
    assert created.status_code == 201
    feed = created.json()
    assert created.headers["Location"].endswith(f"{base}/{feed['id']}")
    assert feed["url"].startswith(env.server.url + "/ics/cbf_") and feed["url"].endswith(".ics")
    assert feed["webcalUrl"] == "webcal://" + feed["url"].split("://", 1)[1]
    assert feed["status"] == "active" and feed["calendarId"] == calendar["id"]
    token = feed["url"].rsplit("/", 1)[1].removesuffix(".ics")
    assert feed["tokenPrefix"].endswith("_…") and token.startswith(feed["tokenPrefix"][:-1])
    assert fetch(feed["url"]).status_code == 200

    listed = env.admin.get(base).json()["items"]
    assert [f["id"] for f in listed] == [feed["id"]]
    assert "url" not in listed[0] and "webcalUrl" not in listed[0]
    assert token not in str(listed) and listed[0]["lastUsedAt"] is not None
    shown = env.admin.get(f"{base}/{feed['id']}").json()
    assert shown["tokenPrefix"] == feed["tokenPrefix"] and "url" not in shown

    rotated = env.admin.post(f"{base}/{feed['id']}/rotate")
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["id"] == feed["id"] and new["url"] != feed["url"]
    assert_problem(fetch(feed["url"]), 404, "NOT_FOUND")
    assert fetch(new["url"]).status_code == 200

    revoked = env.admin.delete(f"{base}/{feed['id']}")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert revoked.json()["revokedAt"] is not None
    gone = assert_problem(fetch(new["url"]), 404, "NOT_FOUND")
    unknown = assert_problem(fetch(f"{env.server.url}/ics/cbf_000000000000_nothing.ics"),
                             404, "NOT_FOUND")
    assert gone["detail"] == unknown["detail"]  # a revoked token looks like any unknown one
    assert requests.head(new["url"]).status_code == 404
    assert_problem(fetch(f"{env.server.url}/ics/nothing.ics"), 404, "NOT_FOUND")
    assert_problem(env.admin.post(f"{base}/{feed['id']}/rotate"), 409, "CONFLICT")
    assert env.admin.delete(f"{base}/{feed['id']}").status_code == 200  # idempotent
    assert_problem(env.admin.get(f"{base}/999999"), 404, "FEED_NOT_FOUND")


def test_feeds_need_calendars_admin_and_stay_in_their_workspace(env: Env) -> None:
    calendar = new_calendar(env)
    base = f"/calendars/{calendar['id']}/feeds"
    feed = new_feed(env, calendar)
    for api in (env.reader, env.writer):
        assert_problem(api.get(base), 403, "ACCESS_DENIED")
        assert_problem(api.post(base, json={}), 403, "ACCESS_DENIED")
        assert_problem(api.get(f"{base}/{feed['id']}"), 403, "ACCESS_DENIED")
        assert_problem(api.post(f"{base}/{feed['id']}/rotate"), 403, "ACCESS_DENIED")
        assert_problem(api.delete(f"{base}/{feed['id']}"), 403, "ACCESS_DENIED")
    for response in (env.stranger.get(base), env.stranger.post(base, json={}),
                     env.stranger.post(f"{base}/{feed['id']}/rotate"),
                     env.stranger.delete(f"{base}/{feed['id']}")):
        assert response.status_code == 404
    other_ws = env.stranger.get("/api/access/token").json()["workspaceUuid"]
    theirs = Api(env.server, other_ws, env.stranger.token)
    assert_problem(theirs.get(f"/calendars/{calendar['id']}/feeds"), 404, "CALENDAR_NOT_FOUND")
    other_calendar = new_calendar(env)
    assert_problem(env.admin.get(f"/calendars/{other_calendar['id']}/feeds/{feed['id']}"),
                   404, "FEED_NOT_FOUND")
    assert_problem(env.admin.with_token("cb_bad_token").get(base), 401, "AUTH_FAILED")
    assert fetch(feed["url"]).status_code == 200  # untouched by all of the above


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "everything"}, "kind"),
    ({"windowPastDays": -1}, "windowPastDays"),
    ({"windowFutureDays": 100000}, "windowFutureDays"),
    ({"unknown": 1}, "unknown"),
])
def test_create_validation_names_the_field(env: Env, body: dict, field: str) -> None:
    calendar = new_calendar(env)
    assert_problem(env.admin.post(f"/calendars/{calendar['id']}/feeds", json=body), 400,
                   "VALIDATION_ERROR", field)


def test_deleting_the_calendar_ends_its_feeds(env: Env) -> None:
    calendar = new_calendar(env)
    feed = new_feed(env, calendar)
    assert fetch(feed["url"]).status_code == 200
    assert env.admin.delete(f"/calendars/{calendar['id']}").status_code == 200
    assert_problem(fetch(feed["url"]), 404, "NOT_FOUND")


def test_the_database_holds_no_feed_secret(env: Env) -> None:
    calendar = new_calendar(env)
    feed = new_feed(env, calendar)
    rotated = env.admin.post(f"/calendars/{calendar['id']}/feeds/{feed['id']}/rotate").json()
    cells, on_disk = env.server.stored_cells(), env.server.stored_bytes()
    for created in (feed, rotated):
        token = created["url"].rsplit("/", 1)[1].removesuffix(".ics")
        secret = token.split("_", 2)[2]
        assert len(secret) >= 22  # >= 128 random bits
        assert not any(secret in cell for cell in cells)
        assert secret.encode() not in on_disk
        assert (hashlib.sha256(secret.encode()).hexdigest() in cells) == (created is rotated)


def test_openapi_documents_the_feeds(env: Env) -> None:
    document = requests.get(f"{env.server.url}/api/openapi.json").json()
    paths = document["paths"]
    base = "/api/v2/w/{workspace_uuid}/calendars/{calendar_id}/feeds"
    assert {"get", "post"} <= set(paths[base])
    assert {"get", "delete"} <= set(paths[base + "/{feed_id}"])
    assert "post" in paths[base + "/{feed_id}/rotate"]
    assert "text/calendar" in paths["/ics/{token}.ics"]["get"]["responses"]["200"]["content"]
    assert "CreatedFeed" in document["components"]["schemas"]


# -- pure pieces -------------------------------------------------------------------------------


def test_streamed_bundle_equals_the_whole_one_and_never_loses_a_zone() -> None:
    texts = [weekly_with_exdate_and_override("w"), new_york_event("ny"),
             berlin_event("b", "20261126T140000", "20261126T150000"), todo("t", "20261130T100000Z")]
    zoned = [t for t in texts if "BEGIN:VTIMEZONE" in t]
    streamed = "".join(stream_calendar(zoned, texts, "Name", "Desc", ["X-A:1"]))
    assert streamed == bundle_calendar(texts, "Name", "Desc", ["X-A:1"])
    late = "".join(stream_calendar([], texts))  # a zone the first pass missed: still once
    cal = icalendar.Calendar.from_ical(late)
    assert sorted(str(z["TZID"]) for z in cal.walk("VTIMEZONE")) == ["America/New_York",
                                                                     "Europe/Berlin"]
    assert late.endswith("END:VTIMEZONE\r\nEND:VCALENDAR\r\n")


def test_validator_matching() -> None:
    current = Validators('"abc"', 1_700_000_000)
    assert current.etag_for(gzip=True) == '"abc-gz"'
    for header in ('"abc"', '"abc-gz"', 'W/"abc"', '"x", "abc-gz"', "*"):
        assert not_modified(current, header, None), header
    for header in ('"abcd"', '"ab"', "abc", ""):
        assert not not_modified(current, header, None), header
    at = dt.datetime.fromtimestamp(1_700_000_000, dt.UTC)
    assert not_modified(current, None, at)
    assert not not_modified(current, None, at - dt.timedelta(seconds=1))
    assert not not_modified(current, '"other"', at)  # If-None-Match decides when present
    assert not not_modified(current, None, None)
