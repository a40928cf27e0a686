"""Queries over CalDAV answered from the index: time ranges, expand, multiget, sync."""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET

import icalendar
import pytest
import recurring_ical_events
import requests

from tests import caldav_data as data
from tests.conftest import PASSWORD, Server
from tests.test_caldav_basics import client, make_calendar

UTC = dt.UTC
NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav"}

WINDOWS = [  # (start, end) pairs crossing series bounds, an EXDATE, an override and DST
    (dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 12, 1, tzinfo=UTC)),
    (dt.datetime(2026, 11, 16, tzinfo=UTC), dt.datetime(2026, 11, 17, tzinfo=UTC)),
    (dt.datetime(2026, 11, 23, 8, 30, tzinfo=UTC), dt.datetime(2026, 11, 23, 9, 30, tzinfo=UTC)),
    (dt.datetime(2026, 12, 5, tzinfo=UTC), dt.datetime(2026, 12, 6, tzinfo=UTC)),
    (dt.datetime(2027, 3, 20, tzinfo=UTC), dt.datetime(2027, 4, 3, tzinfo=UTC)),
    (dt.datetime(2031, 6, 1, tzinfo=UTC), dt.datetime(2031, 6, 2, tzinfo=UTC)),
]


def fmt(value: dt.datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%SZ")


def report(server: Server, url: str, body: str, depth: str = "1") -> ET.Element:
    response = requests.request(
        "REPORT", url, data=body.encode(), auth=("alice", PASSWORD),
        headers={"Depth": depth, "Content-Type": "application/xml; charset=utf-8"})
    assert response.status_code == 207, response.text
    return ET.fromstring(response.content)


def calendar_query(start: dt.datetime, end: dt.datetime, expand: bool = False) -> str:
    data_prop = (f'<C:calendar-data><C:expand start="{fmt(start)}" end="{fmt(end)}"/>'
                 "</C:calendar-data>" if expand else "<C:calendar-data/>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f"<D:prop><D:getetag/>{data_prop}</D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{fmt(start)}" end="{fmt(end)}"/>'
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>")


def expected_uids(texts: list[str], start: dt.datetime, end: dt.datetime) -> set[str]:
    uids = set()
    for text in texts:
        cal = icalendar.Calendar.from_ical(text)
        if list(recurring_ical_events.of(cal).between(start, end)):
            uids.add(str(cal.walk("VEVENT")[0]["UID"]))
    return uids


def expected_instances(texts: list[str], start: dt.datetime, end: dt.datetime
                       ) -> set[tuple[str, str]]:
    out = set()
    for text in texts:
        for event in recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
                start, end):
            out.add((str(event["UID"]), _utc_key(event["DTSTART"].dt)))
    return out


def answered_uids(root: ET.Element) -> set[str]:
    """The UIDs of the objects in a calendar-query's answer."""
    return {str(icalendar.Calendar.from_ical(node.text).walk("VEVENT")[0]["UID"])
            for node in root.iterfind(".//C:calendar-data", NS)}


def answered_instances(root: ET.Element) -> set[tuple[str, str]]:
    """(UID, start in UTC) of the instances of an expanded answer, which must hold no
    VTIMEZONE and no rule (RFC 4791 9.6.5)."""
    instances = set()
    for node in root.iterfind(".//C:calendar-data", NS):
        cal = icalendar.Calendar.from_ical(node.text)
        assert not list(cal.walk("VTIMEZONE"))
        for event in cal.walk("VEVENT"):
            assert "RRULE" not in event and "EXDATE" not in event
            instances.add((str(event["UID"]), _utc_key(event["DTSTART"].dt)))
    return instances


def _utc_key(value: dt.date | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


@pytest.fixture(scope="module")
def loaded(server: Server) -> tuple[str, list[str]]:
    """A calendar with recurring, overridden, open-ended, all-day and single events."""
    calendar = make_calendar(server)
    texts = [
        data.weekly_with_exdate_and_override("weekly"),
        data.open_ended_daily("daily"),
        data.open_ended_daily("old-daily", start="20190101T120000Z"),
        data.yearly_all_day("birthday"),
        data.single_event("single", "20261116T100000Z", "20261116T110000Z"),
        data.single_event("zero", "20261205T000000Z", "20261205T000000Z"),
    ]
    for text in texts:
        calendar.save_event(text)
    calendar.save_todo(data.todo("task", "20261120T120000Z"))
    return str(calendar.url), texts


@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: w[0].strftime("%Y%m%d%H%M"))
def test_time_range_query_equals_recurring_ical_events(
        server: Server, loaded: tuple[str, list[str]], window: tuple[dt.datetime, dt.datetime]
) -> None:
    url, texts = loaded
    root = report(server, url, calendar_query(*window))
    assert answered_uids(root) == expected_uids(texts, *window)


@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: w[0].strftime("%Y%m%d%H%M"))
def test_expand_returns_exactly_the_instances_in_the_window(
        server: Server, loaded: tuple[str, list[str]], window: tuple[dt.datetime, dt.datetime]
) -> None:
    url, texts = loaded
    root = report(server, url, calendar_query(*window, expand=True))
    assert answered_instances(root) == expected_instances(texts, *window)


def test_expanded_override_keeps_its_own_time_and_the_series_keeps_alarms(
        server: Server, loaded: tuple[str, list[str]]) -> None:
    url, _ = loaded
    window = (dt.datetime(2026, 11, 16, tzinfo=UTC), dt.datetime(2026, 12, 1, tzinfo=UTC))
    root = report(server, url, calendar_query(*window, expand=True))
    events = [e for node in root.iterfind(".//C:calendar-data", NS)
              for e in icalendar.Calendar.from_ical(node.text).walk("VEVENT")
              if str(e["UID"]) == "weekly"]
    by_start = {_utc_key(e["DTSTART"].dt): e for e in events}
    # 11-16 is excluded, 11-23 moved to 11:00 Berlin (10:00 UTC), 11-30 regular.
    assert set(by_start) == {"20261123T100000Z", "20261130T080000Z"}
    assert str(by_start["20261123T100000Z"]["SUMMARY"]) == "Weekly sync (moved)"
    regular = by_start["20261130T080000Z"]
    assert regular["RECURRENCE-ID"].dt == dt.datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert regular.walk("VALARM") and str(regular["X-CLIENT-PROP"]) == "kept"


def test_caldav_library_search_finds_the_recurring_event_and_the_todo(
        server: Server, loaded: tuple[str, list[str]]) -> None:
    url, _ = loaded
    calendar = client(server).calendar(url=url)
    events = calendar.search(start=dt.datetime(2026, 11, 16, tzinfo=UTC),
                             end=dt.datetime(2026, 11, 17, tzinfo=UTC), event=True)
    assert {str(e.icalendar_component["UID"]) for e in events} == {
        "daily", "old-daily", "single"}
    todos = calendar.search(todo=True, include_completed=True)
    assert [str(t.icalendar_component["UID"]) for t in todos] == ["task"]


def test_multiget_returns_the_requested_objects_and_404_for_missing(
        server: Server, loaded: tuple[str, list[str]]) -> None:
    url, _ = loaded
    path = requests.utils.urlparse(url).path
    body = ('<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/>'
            f"</D:prop><D:href>{path}weekly.ics</D:href><D:href>{path}single.ics</D:href>"
            f"<D:href>{path}missing.ics</D:href></C:calendar-multiget>")
    root = report(server, url, body)
    statuses = {}
    for response in root.iterfind("D:response", NS):
        href = response.findtext("D:href", namespaces=NS)
        status = response.findtext(".//D:status", namespaces=NS)
        statuses[href.rsplit("/", 1)[1]] = status
    assert statuses["weekly.ics"].endswith("200 OK")
    assert statuses["single.ics"].endswith("200 OK")
    assert "404" in statuses["missing.ics"]


def test_sync_collection_reports_creates_updates_and_deletes_incrementally(
        server: Server) -> None:
    calendar = make_calendar(server)
    first = calendar.save_event(data.single_event("s1", "20261201T100000Z", "20261201T110000Z"))
    calendar.save_event(data.single_event("s2", "20261202T100000Z", "20261202T110000Z"))
    initial = calendar.objects_by_sync_token(disable_fallback=True)
    assert {o.url.path.rsplit("/", 1)[1] for o in initial} == {"s1.ics", "s2.ics"}
    token = initial.sync_token

    calendar.save_event(data.single_event("s3", "20261203T100000Z", "20261203T110000Z"))
    created = calendar.objects_by_sync_token(sync_token=token, disable_fallback=True)
    assert [o.url.path.rsplit("/", 1)[1] for o in created] == ["s3.ics"]

    first.icalendar_component["SUMMARY"] = "renamed"
    first.save()
    updated = calendar.objects_by_sync_token(sync_token=created.sync_token,
                                             disable_fallback=True)
    assert [o.url.path.rsplit("/", 1)[1] for o in updated] == ["s1.ics"]

    first.delete()
    deleted = calendar.objects_by_sync_token(sync_token=updated.sync_token,
                                             disable_fallback=True)
    assert [u.path.rsplit("/", 1)[1] for u in deleted.deleted_urls] == ["s1.ics"] or \
        [o.url.path.rsplit("/", 1)[1] for o in deleted] == ["s1.ics"]

    unchanged = calendar.objects_by_sync_token(sync_token=deleted.sync_token,
                                               disable_fallback=True)
    assert len(unchanged) == 0


def test_a_foreign_sync_token_is_refused_with_valid_sync_token(server: Server) -> None:
    calendar = make_calendar(server)
    body = ('<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>'
            "http://radicale.org/ns/sync/cb-999999-1</D:sync-token><D:sync-level>1"
            "</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>")
    response = requests.request("REPORT", str(calendar.url), data=body,
                                auth=("alice", PASSWORD), headers={"Content-Type": "text/xml"})
    assert response.status_code == 403
    assert "valid-sync-token" in response.text


def test_getctag_changes_on_every_write_and_only_then(server: Server) -> None:
    calendar = make_calendar(server)
    body = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
            'xmlns:CS="http://calendarserver.org/ns/"><D:prop><CS:getctag/></D:prop>'
            "</D:propfind>")

    def ctag() -> str:
        response = requests.request("PROPFIND", str(calendar.url), data=body,
                                    auth=("alice", PASSWORD), headers={"Depth": "0"})
        return ET.fromstring(response.content).findtext(
            ".//{http://calendarserver.org/ns/}getctag")

    before = ctag()
    assert ctag() == before
    calendar.save_event(data.single_event(f"c-{uuid.uuid4().hex}", "20261201T100000Z",
                                          "20261201T110000Z"))
    assert ctag() != before


def propfind_members(url: str, props: str) -> dict[str, dict[str, str]]:
    body = f'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>{props}</D:prop></D:propfind>'
    response = requests.request("PROPFIND", url, data=body, auth=("alice", PASSWORD),
                                headers={"Depth": "1"})
    assert response.status_code == 207
    members = {}
    for node in ET.fromstring(response.content).iterfind("D:response", NS):
        found = {}
        for propstat in node.iterfind("D:propstat", NS):
            if propstat.findtext("D:status", namespaces=NS).endswith("200 OK"):
                for prop in propstat.find("D:prop", NS):
                    found[prop.tag] = (prop.text or "").strip()
        members[node.findtext("D:href", namespaces=NS)] = found
    return members


def test_depth_one_listing_from_the_index_equals_radicales_own(
        server: Server, loaded: tuple[str, list[str]]) -> None:
    url, texts = loaded
    listing = "<D:getetag/><D:getcontenttype/><D:resourcetype/><D:getlastmodified/>"
    fast = propfind_members(url, listing)
    # an extra property Radicale must answer itself takes its own, general path
    general = propfind_members(url, listing + "<D:displayname/>")
    assert len(fast) == len(texts) + 2  # the collection, the events and the todo
    for href, props in fast.items():
        expected = {k: v for k, v in general[href].items() if not k.endswith("displayname")}
        assert props == expected, href


def test_collection_get_is_one_calendar_with_each_timezone_once(
        server: Server, loaded: tuple[str, list[str]]) -> None:
    url, texts = loaded
    response = requests.get(url, auth=("alice", PASSWORD))
    assert response.status_code == 200
    cal = icalendar.Calendar.from_ical(response.text)
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    uids = {str(c["UID"]) for c in cal.walk() if c.name in ("VEVENT", "VTODO")}
    assert uids == {str(icalendar.Calendar.from_ical(t).walk("VEVENT")[0]["UID"])
                    for t in texts} | {"task"}
    assert len(cal.walk("VEVENT")) == len(texts) + 1  # the weekly series has an override


def test_collection_get_answers_304_until_the_calendar_changes(server: Server) -> None:
    calendar = make_calendar(server)
    calendar.save_event(data.single_event("g-1", "20261201T100000Z", "20261201T110000Z"))
    url = str(calendar.url)
    first = requests.get(url, auth=("alice", PASSWORD))
    assert first.status_code == 200 and first.headers["Content-Encoding"] == "gzip"
    plain = requests.get(url, auth=("alice", PASSWORD), headers={"Accept-Encoding": "identity"})
    assert plain.text == first.text and "Content-Encoding" not in plain.headers
    again = requests.get(url, auth=("alice", PASSWORD),
                         headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.content
    calendar.save_event(data.single_event("g-2", "20261202T100000Z", "20261202T110000Z"))
    changed = requests.get(url, auth=("alice", PASSWORD),
                           headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and "UID:g-2" in changed.text
    assert changed.headers["ETag"] != first.headers["ETag"]


RECURRING_TODO = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\n"
    "DTSTAMP:20261101T000000Z\r\nDTSTART:20261102T090000Z\r\nDUE:20261102T170000Z\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=6\r\nEXDATE:20261116T090000Z\r\nSUMMARY:Weekly report\r\n"
    "END:VTODO\r\nBEGIN:VTODO\r\nUID:{uid}\r\nRECURRENCE-ID:20261123T090000Z\r\n"
    "DTSTAMP:20261101T000000Z\r\nDTSTART:20261124T090000Z\r\nDUE:20261124T170000Z\r\n"
    "SUMMARY:Weekly report (late)\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")
RECURRING_JOURNAL = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VJOURNAL\r\nUID:{uid}\r\n"
    "DTSTAMP:20261101T000000Z\r\nDTSTART;VALUE=DATE:20261101\r\nRRULE:FREQ=DAILY;COUNT=40\r\n"
    "SUMMARY:Diary\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n")


def expanded(server: Server, url: str, component: str, start: dt.datetime, end: dt.datetime
             ) -> list[icalendar.cal.Component]:
    body = ('<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data>'
            f'<C:expand start="{fmt(start)}" end="{fmt(end)}"/></C:calendar-data></D:prop>'
            f'<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="{component}">'
            f'<C:time-range start="{fmt(start)}" end="{fmt(end)}"/></C:comp-filter>'
            "</C:comp-filter></C:filter></C:calendar-query>")
    root = report(server, url, body)
    found = []
    for data_element in root.iter(f"{{{NS['C']}}}calendar-data"):
        found += icalendar.Calendar.from_ical(data_element.text or "").walk(component)
    return found


@pytest.mark.parametrize(("component", "template"), [("VTODO", RECURRING_TODO),
                                                     ("VJOURNAL", RECURRING_JOURNAL)])
def test_expand_of_recurring_todos_and_journals_equals_recurring_ical_events(
        server: Server, component: str, template: str) -> None:
    calendar = make_calendar(server)
    text = template.format(uid=uuid.uuid4().hex)
    requests.put(f"{calendar.url}{uuid.uuid4().hex}.ics", data=text.encode(), timeout=30,
                 auth=("alice", PASSWORD),
                 headers={"Content-Type": "text/calendar"}).raise_for_status()
    start, end = dt.datetime(2026, 11, 9, tzinfo=UTC), dt.datetime(2026, 12, 1, tzinfo=UTC)
    got = expanded(server, str(calendar.url), component, start, end)
    oracle = recurring_ical_events.of(icalendar.Calendar.from_ical(text),
                                      components=[component]).between(start, end)

    def shape(found: icalendar.cal.Component) -> tuple[str, str, str, str]:
        return (_utc_key(found["RECURRENCE-ID"].dt), _utc_key(found["DTSTART"].dt),
                _utc_key(found["DUE"].dt) if "DUE" in found else "", str(found["SUMMARY"]))

    assert sorted(map(shape, got)) == sorted(map(shape, oracle))
    assert len(got) == (3 if component == "VTODO" else 22)
    assert all("RRULE" not in found and "EXDATE" not in found for found in got)
