"""Hostile and malformed input on both doors, against a calendar that holds data: every answer
is a 4xx, in time (a request timeout proves there is no hang), never a 5xx, and a refused
write leaves the store as it was (docs/architecture.md, "Hostile input")."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import icalendar
import pytest
import requests
import sqlalchemy as sa

from bridge.feeds import FeedWindow, bounded_occurrences, freebusy_body
from bridge.guard import basic_credentials_problem, ical_problem, json_too_deep, xml_problem
from bridge.store.schema import collection, feed_token
from radicale_plugin.store_factory import open_store
from tests import caldav_data as data
from tests.api_helpers import EVENTS, Api, assert_problem, cli_json, make_token, seed_calendar
from tests.conftest import PASSWORD, Server

# Generous: proves "answered, not hung", and is no timing assertion.
TIMEOUT = 15
# Columns a refused request may rightly write, left out of "store unchanged": a token's or a
# feed's last use, and the login throttle's count of failed logins.
VOLATILE = ("api_token.last_used_at", "feed_token.last_used_at", "auth_failure.key",
            "auth_failure.window_start", "auth_failure.count")
MiB = 1024 * 1024

D = 'xmlns:D="DAV:"'
C = 'xmlns:C="urn:ietf:params:xml:ns:caldav"'
LAUGHS = ('<!DOCTYPE d [<!ENTITY l0 "lol">' + "".join(
    f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)) + "]>")
EXTERNAL_ENTITY = '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
EXTERNAL_DTD = '<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd">'
PARAMETER_ENTITY = '<!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>'


def propfind(doctype: str = "", inner: str = "<D:displayname/>") -> bytes:
    return (f'<?xml version="1.0"?>{doctype}<D:propfind {D}><D:prop>{inner}</D:prop>'
            "</D:propfind>").encode()


def proppatch(value: str, prop: str = "D:displayname", doctype: str = "") -> bytes:
    return proppatch_props({prop: value}, doctype)


def proppatch_props(props: dict[str, str], doctype: str = "") -> bytes:
    inner = "".join(f"<{name}>{value}</{name}>" for name, value in props.items())
    return (f'<?xml version="1.0"?>{doctype}<D:propertyupdate {D} {C}><D:set><D:prop>'
            f"{inner}</D:prop></D:set></D:propertyupdate>").encode()


def calendar_query(doctype: str = "", inner: str = "") -> bytes:
    return (f'<?xml version="1.0"?>{doctype}<C:calendar-query {D} {C}><D:prop><D:getetag/>'
            f'</D:prop><C:filter><C:comp-filter name="VCALENDAR">{inner}</C:comp-filter>'
            "</C:filter></C:calendar-query>").encode()


def nested(tag: str, depth: int, attributes: str = "") -> str:
    return f"<{tag}{attributes}>" * depth + f"</{tag}>" * depth


def mkcalendar(displayname: str) -> bytes:
    return (f'<?xml version="1.0"?><C:mkcalendar {D} {C}><D:set><D:prop>'
            f"<D:displayname>{displayname}</D:displayname></D:prop></D:set>"
            "</C:mkcalendar>").encode()


def mkcol(displayname: str) -> bytes:
    return (f'<?xml version="1.0"?><D:mkcol {D} {C}><D:set><D:prop><D:resourcetype>'
            "<D:collection/><C:calendar/></D:resourcetype>"
            f"<D:displayname>{displayname}</D:displayname></D:prop></D:set></D:mkcol>").encode()


def ical(body: str, uid: str = "hostile") -> bytes:
    return (f"{data.HEADER}BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART:20261210T100000Z\r\nDTEND:20261210T110000Z\r\n{body}"
            f"END:VEVENT\r\n{data.FOOTER}").encode()


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str                 # {cal}: the seeded calendar's CalDAV path; {ws}, {cal_id}, {feed}
    body: bytes | None = None
    status: int = 400
    headers: dict[str, str] = field(default_factory=dict)
    auth: str = "password"    # alice's Basic password, "token" (Bearer), or "none"
    chunked: bool = False     # sent without a Content-Length
    code: str | None = None   # the REST problem code


XML = {"Content-Type": "application/xml; charset=utf-8"}
ICS = {"Content-Type": "text/calendar; charset=utf-8"}
JSON = {"Content-Type": "application/json"}
AVAILABILITY = "C:calendar-availability"

CALDAV_CASES = [
    Case("propfind billion laughs", "PROPFIND", "{cal}", propfind(LAUGHS, "&l9;"), headers=XML),
    Case("propfind external entity", "PROPFIND", "{cal}", propfind(EXTERNAL_ENTITY, "&x;"),
         headers=XML),
    Case("propfind external dtd", "PROPFIND", "{cal}", propfind(EXTERNAL_DTD), headers=XML),
    Case("propfind parameter entity", "PROPFIND", "{cal}", propfind(PARAMETER_ENTITY),
         headers=XML),
    Case("proppatch billion laughs", "PROPPATCH", "{cal}", proppatch("&l9;", doctype=LAUGHS),
         headers=XML),
    Case("proppatch external entity", "PROPPATCH", "{cal}",
         proppatch("&x;", doctype=EXTERNAL_ENTITY), headers=XML),
    Case("report billion laughs", "REPORT", "{cal}", calendar_query(LAUGHS, "&l9;"),
         headers={**XML, "Depth": "1"}),
    Case("report external entity", "REPORT", "{cal}", calendar_query(EXTERNAL_ENTITY, "&x;"),
         headers={**XML, "Depth": "1"}),
    Case("mkcalendar with a dtd", "MKCALENDAR", "/alice/hostile-dtd/",
         mkcalendar("&l9;").replace(b"?>", f"?>{LAUGHS}".encode(), 1), headers=XML),
    Case("propfind nested 5000 deep", "PROPFIND", "{cal}",
         propfind(inner=nested("D:x", 5000)), headers={**XML, "Depth": "1"}),
    Case("proppatch nested 5000 deep", "PROPPATCH", "{cal}",
         proppatch(nested("D:x", 5000), prop="D:x-deep"), headers=XML),
    Case("report nested 5000 deep", "REPORT", "{cal}",
         calendar_query(inner=nested("C:comp-filter", 5000, ' name="VEVENT"')),
         headers={**XML, "Depth": "1"}),
    Case("multiget with an empty href", "REPORT", "{cal}",
         f"<C:calendar-multiget {D} {C}><D:prop><D:getetag/></D:prop><D:href/>"
         "</C:calendar-multiget>".encode(), headers={**XML, "Depth": "1"}),
    Case("free-busy-query without a time range", "REPORT", "{cal}",
         f"<C:free-busy-query {C}/>".encode(), headers={**XML, "Depth": "1"}),
    Case("propfind malformed xml", "PROPFIND", "{cal}", b"<D:propfind xmlns:D='DAV:'><D:pr",
         headers=XML),
    Case("propfind empty propfind", "PROPFIND", "{cal}", f"<D:propfind {D}/>".encode(),
         headers=XML),
    Case("propfind without xml", "PROPFIND", "{cal}", b"<a>" + b"x" * 1000 + b"</a>",
         headers=XML),
    Case("proppatch wrong document element", "PROPPATCH", "{cal}", propfind(), headers=XML),
    Case("proppatch not utf-8", "PROPPATCH", "{cal}", proppatch("caf\xe9").replace(
        "café".encode(), b"caf\xe9"), headers=XML),
    Case("propfind unknown charset", "PROPFIND", "{cal}", propfind(),
         headers={"Content-Type": "text/xml; charset=x-no-such-charset"}, status=415),
    Case("propfind 3 MiB", "PROPFIND", "{cal}",
         propfind(inner="<D:displayname/>" * (3 * MiB // 17)), headers=XML, status=413),
    Case("propfind 3 MiB chunked", "PROPFIND", "{cal}",
         propfind(inner="<D:displayname/>" * (3 * MiB // 17)), headers=XML, status=413,
         chunked=True),
    Case("basic not base64", "PROPFIND", "{cal}", auth="none", status=401,
         headers={"Authorization": "Basic !!!not-base64!!!", "Depth": "0"}),
    Case("basic without colon", "PROPFIND", "{cal}", auth="none", status=401,
         headers={"Authorization": basic(b"alice"), "Depth": "0"}),
    Case("basic not utf-8", "PUT", "{cal}x.ics", ical(""), auth="none", status=401,
         headers={**ICS, "Authorization": basic(b"al\xffce:" + PASSWORD.encode())}),
    Case("property of 1 MiB", "PROPPATCH", "{cal}", proppatch("x" * MiB), headers=XML,
         status=403),
    Case("properties over the collection total", "PROPPATCH", "{cal}",
         proppatch_props({f"D:x-big-{i}": "y" * 60_000 for i in range(6)}), headers=XML,
         status=403),
    Case("availability that is not iCalendar", "PROPPATCH", "{cal}",
         proppatch("garbage", prop=AVAILABILITY), headers=XML, status=403),
    Case("availability without a time zone", "PROPPATCH", "{cal}", proppatch(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VAVAILABILITY\r\nUID:a\r\n"
        "BEGIN:AVAILABLE\r\nUID:b\r\nDTSTART;VALUE=DATE:20270101\r\nEND:AVAILABLE\r\n"
        "END:VAVAILABILITY\r\nEND:VCALENDAR\r\n", prop=AVAILABILITY), headers=XML,
         status=403),
    Case("mkcalendar named with 1 MiB", "MKCALENDAR", "/alice/hostile-big/",
         mkcalendar("n" * MiB), headers=XML, status=403),
    Case("extended mkcol named with 1 MiB", "MKCOL", "/alice/hostile-mkcol/",
         mkcol("n" * MiB), headers=XML, status=403),
    Case("object over max_object_bytes", "PUT", "{cal}huge.ics",
         ical("DESCRIPTION:" + "d" * (10 * MiB) + "\r\n"), headers=ICS, status=413),
    Case("object with a 2 MiB line", "PUT", "{cal}long-line.ics",
         ical("DESCRIPTION:" + "d" * (2 * MiB) + "\r\n"), headers=ICS, status=413),
    Case("object with 20000 lines", "PUT", "{cal}many-lines.ics",
         ical("X-LINE:y\r\n" * 20_000), headers=ICS, status=413),
    Case("object not utf-8", "PUT", "{cal}latin.ics",
         ical("SUMMARY:caf\xe9\r\n").replace("café".encode(), b"caf\xe9"), headers=ICS),
    Case("object not icalendar", "PUT", "{cal}text.ics", b"hello, world\r\n", headers=ICS),
    Case("object is a vcard", "PUT", "{cal}card.ics",
         b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c\r\nFN:Card\r\nN:Card;;;;\r\nEND:VCARD\r\n",
         headers=ICS),
    Case("object with two uids", "PUT", "{cal}two.ics",
         ical("").replace(b"END:VCALENDAR\r\n", b"") +
         ical("", uid="other").replace(data.HEADER.encode(), b""), headers=ICS),
    Case("object without components", "PUT", "{cal}empty.ics",
         f"{data.HEADER}{data.FOOTER}".encode(), headers=ICS),
    Case("href longer than the store holds", "PUT", "{cal}" + "h" * 1100 + ".ics", ical(""),
         headers=ICS),
    Case("encoded slash in an href", "PUT", "{cal}a%2Fb.ics", ical(""), headers=ICS,
         status=403),
    Case("dot segments into another home", "PUT", "{cal}..%2F..%2Fbob%2Fx.ics", ical(""),
         headers=ICS, status=403),
    Case("raw dot segments into another home", "PROPFIND", "/alice/../bob/",
         headers={"Depth": "1"}, status=403),
    Case("path of 60000 characters", "PROPFIND", "/alice/" + "p" * 60_000 + "/",
         headers={"Depth": "0"}, status=404),
]

REST_CASES = [
    Case("json nested 100000 deep", "POST", EVENTS, deep_json(100_000), headers=JSON,
         auth="token", code="JSON_TOO_DEEP"),
    Case("json nested 33 deep in a field", "POST", "/api/v2/w/{ws}/calendars",
         b'{"name": "x", "description": ' + deep_json(33) + b"}", headers=JSON, auth="token",
         code="JSON_TOO_DEEP"),
    Case("json of 2 MiB", "POST", EVENTS,
         b'{"summary": "' + b"s" * (2 * MiB) + b'"}', headers=JSON, auth="token", status=413,
         code="PAYLOAD_TOO_LARGE"),
    Case("json of 2 MiB chunked", "PUT", "/api/v2/w/{ws}/calendars/{cal_id}",
         b'{"name": "' + b"s" * (2 * MiB) + b'"}', headers=JSON, auth="token", status=413,
         code="PAYLOAD_TOO_LARGE", chunked=True),
    Case("basic credentials not base64", "GET", "/api/access/calendar/calendars",
         auth="none", status=401, headers={"Authorization": "Basic %%%"}, code="AUTH_FAILED"),
    Case("bearer with only the prefix", "GET", "/api/access/calendar/calendars", auth="none",
         status=401, headers={"Authorization": "Bearer cb_"}, code="AUTH_FAILED"),
    Case("bearer of underscores", "GET", "/api/access/calendar/calendars", auth="none",
         status=401, headers={"Authorization": "Bearer cb______"}, code="AUTH_FAILED"),
    Case("feed url 10 years back", "GET", "{feed}?pastDays=3650", auth="none",
         code="WINDOW_TOO_LARGE"),
    Case("feed url 10 years ahead", "GET", "{feed}?futureDays=3660", auth="none",
         code="WINDOW_TOO_LARGE"),
    Case("feed url beyond any window", "GET", "{feed}?futureDays=99999999999999999999",
         auth="none", code="VALIDATION_ERROR"),
    Case("feed created with a 10-year window", "POST",
         "/api/v2/w/{ws}/calendars/{cal_id}/feeds",
         b'{"kind": "freebusy", "windowFutureDays": 3650}', headers=JSON, auth="token",
         code="WINDOW_TOO_LARGE"),
]


@dataclass
class Env:
    server: Server
    workspace: str
    api: Api
    calendar: dict
    feed_url: str

    @property
    def path(self) -> str:
        return "/" + self.calendar["caldavUrl"].split("/", 3)[3]

    def url(self, case_path: str) -> str:
        path = case_path.format(cal=self.path, ws=self.workspace, cal_id=self.calendar["id"],
                                feed=self.feed_url.removeprefix(self.server.url))
        return self.server.url + path

    def cells(self) -> list[str]:
        return self.server.stored_cells(skip=VOLATILE)


@pytest.fixture(scope="module")
def env(api_server: Server) -> Iterator[Env]:
    ws = cli_json(api_server, "workspace", "create", "Hostile", "--owner", "alice")["uuid"]
    api = Api(api_server, ws, make_token(api_server, "alice", ws, "calendars:admin"))
    calendar = api.post("/calendars", json={"name": "Hostile"}).json()
    seed_calendar(api, calendar, PASSWORD)
    schedule = api.post(f"/calendars/{calendar['id']}/schedules", json={
        "name": "Office hours", "daysOfWeek": ["Monday", "Friday"], "startTime": "09:00",
        "endTime": "17:00", "timezone": "Europe/Berlin"})
    assert schedule.status_code == 201, schedule.text
    feed = api.post(f"/calendars/{calendar['id']}/feeds", json={"kind": "freebusy"})
    assert feed.status_code == 201, feed.text
    yield Env(api_server, ws, api, calendar, feed.json()["url"])


def send(env: Env, case: Case) -> requests.Response:
    headers = dict(case.headers)
    auth = ("alice", PASSWORD) if case.auth == "password" else None
    if case.auth == "token":
        headers["Authorization"] = f"Bearer {env.api.token}"
    body: object = case.body
    if case.chunked and case.body is not None:
        body = iter([case.body[i:i + 65536] for i in range(0, len(case.body), 65536)])
    return requests.request(case.method, env.url(case.path), data=body, headers=headers,
                            auth=auth, timeout=TIMEOUT)


def send_raw(env: Env, case: Case) -> int:
    """For paths a client library would normalize (dot segments): sent as they are."""
    connection = http.client.HTTPConnection("127.0.0.1", env.server.port, timeout=TIMEOUT)
    try:
        token = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
        connection.request(case.method, case.path.format(cal=env.path), body=case.body,
                           headers={**case.headers, "Authorization": f"Basic {token}"})
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("case", CALDAV_CASES + REST_CASES, ids=lambda c: c.name)
def test_hostile_input_gets_a_4xx_in_time_and_changes_nothing(env: Env, case: Case) -> None:
    before = env.cells()
    if "/../" in case.path:
        status = send_raw(env, case)
        assert status == case.status
    else:
        response = send(env, case)
        assert response.status_code == case.status, response.text[:500]
        if case.code is not None:
            assert_problem(response, case.status, case.code)
    assert env.cells() == before


def test_refused_property_leaves_the_calendar_readable(env: Env) -> None:
    auth = ("alice", PASSWORD)
    refused = requests.request("PROPPATCH", env.url("{cal}"), data=proppatch("x" * MiB),
                               headers=XML, auth=auth, timeout=TIMEOUT)
    assert refused.status_code == 403
    assert b"max-property-size" in refused.content
    whole = requests.get(env.url("{cal}"), auth=auth, timeout=TIMEOUT)
    assert whole.status_code == 200
    assert icalendar.Calendar.from_ical(whole.text).walk("VEVENT")


def test_a_long_display_name_keeps_the_calendar_get_headers_short(env: Env) -> None:
    created = env.api.post("/calendars", json={"name": "Long"}).json()
    url = created["caldavUrl"]
    name = "ü" * 30_000  # 60 KB of UTF-8, three times that percent-encoded
    renamed = requests.request("PROPPATCH", url, data=proppatch(name), headers=XML,
                               auth=("alice", PASSWORD), timeout=TIMEOUT)
    assert renamed.status_code == 207, renamed.text
    response = requests.get(url, auth=("alice", PASSWORD), timeout=TIMEOUT)
    assert response.status_code == 200
    assert len(response.headers["Content-Disposition"]) < 1000


def poison_availability(server: Server, calendar_id: int, value: str) -> None:
    """Store a value as an older version, which checked nothing, could have."""
    engine = sa.create_engine(server.database_url)
    try:
        with engine.begin() as conn:
            props = conn.execute(sa.select(collection.c.props).where(
                collection.c.id == calendar_id)).scalar_one()
            conn.execute(collection.update().where(collection.c.id == calendar_id).values(
                props={**props, AVAILABILITY: value}))
    finally:
        engine.dispose()


@pytest.mark.parametrize("value", [
    "garbage",
    f"{data.HEADER}BEGIN:VAVAILABILITY\r\nUID:a\r\nBEGIN:AVAILABLE\r\nUID:b\r\n"
    f"DTSTART;VALUE=DATE:20270101\r\nEND:AVAILABLE\r\nEND:VAVAILABILITY\r\n{data.FOOTER}",
    f"{data.HEADER}BEGIN:VAVAILABILITY\r\nUID:a\r\nBEGIN:AVAILABLE\r\nUID:b\r\n"
    "DTSTART:20270101T170000Z\r\nDTEND:20270101T090000Z\r\nEND:AVAILABLE\r\n"
    f"END:VAVAILABILITY\r\n{data.FOOTER}",
], ids=["not icalendar", "date start", "ends before it starts"])
def test_a_stored_bad_availability_counts_as_no_schedules(env: Env, value: str) -> None:
    calendar = env.api.post("/calendars", json={"name": "Poisoned"}).json()
    poison_availability(env.server, calendar["id"], value)
    base = f"/calendars/{calendar['id']}"
    window = {"from": "2026-12-14T00:00:00Z", "to": "2026-12-15T00:00:00Z"}
    freebusy = env.api.get("/api/access/calendar/freebusy",
                           params={"calendars": calendar["id"], **window}, timeout=TIMEOUT)
    assert freebusy.status_code == 200, freebusy.text
    assert freebusy.json()["calendars"][0]["busy"] == []
    slots = env.api.get(f"{base}/slots", params={**window, "duration": 60}, timeout=TIMEOUT)
    assert slots.status_code == 200, slots.text
    assert len(slots.json()["slots"]["2026-12-14"]) == 24
    assert env.api.get(f"{base}/schedules").json() == []
    assert env.api.get(base).json()["availabilityMode"] == "open"
    created = env.api.post(EVENTS, timeout=TIMEOUT, json={
        "calendarId": calendar["id"], "summary": "Booked", "from": "2026-12-14T10:00:00Z",
        "to": "2026-12-14T11:00:00Z"})
    assert created.status_code == 201, created.text


def test_availability_written_by_the_api_is_accepted_over_caldav(env: Env) -> None:
    source = env.api.post("/calendars", json={"name": "Source"}).json()
    target = env.api.post("/calendars", json={"name": "Target"}).json()
    env.api.post(f"/calendars/{source['id']}/schedules", json={
        "name": "Mornings", "recurrence": "daily", "startTime": "08:00", "endTime": "12:00",
        "timezone": "America/New_York"})
    auth = ("alice", PASSWORD)
    read = requests.request("PROPFIND", source["caldavUrl"], auth=auth, timeout=TIMEOUT,
                            headers={**XML, "Depth": "0"},
                            data=propfind(inner=f"<C:{AVAILABILITY[2:]} {C}/>"))
    value = ET.fromstring(read.content).findtext(
        ".//{urn:ietf:params:xml:ns:caldav}calendar-availability")
    assert value and "BEGIN:VAVAILABILITY" in value
    copied = requests.request("PROPPATCH", target["caldavUrl"], auth=auth, timeout=TIMEOUT,
                              data=proppatch(escape(value), prop=AVAILABILITY), headers=XML)
    assert copied.status_code == 207, copied.text
    items = env.api.get(f"/calendars/{target['id']}/schedules").json()
    assert [(s["name"], s["startTime"]) for s in items] == [("Mornings", "08:00")]


def test_a_feed_stored_with_a_ten_year_window_is_cut_to_the_limit(env: Env) -> None:
    feed = env.api.post(f"/calendars/{env.calendar['id']}/feeds",
                        json={"kind": "freebusy", "windowFutureDays": 30}).json()
    engine = sa.create_engine(env.server.database_url)
    try:
        with engine.begin() as conn:  # as an older version, which allowed 3660 days, stored it
            conn.execute(feed_token.update().where(feed_token.c.id == feed["id"]).values(
                window_past_days=3650, window_future_days=3650))
    finally:
        engine.dispose()
    response = requests.get(feed["url"], timeout=TIMEOUT)
    assert response.status_code == 200
    starts = [e["DTSTART"].dt for e in icalendar.Calendar.from_ical(response.text).walk("VEVENT")]
    today = dt.datetime.now(dt.UTC).date()
    assert starts and all(
        today - dt.timedelta(days=367) <= (s.date() if isinstance(s, dt.datetime) else s)
        <= today + dt.timedelta(days=733) for s in starts)


# -- the free/busy feed's instance budget, on a store of its own -----------------------------


def test_free_busy_feed_expands_at_most_its_budget_and_shows_the_rest_busy(
        tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'budget.sqlite3'}")
    store.create_collection("alice")
    calendar, _, _ = store.create_collection("alice/budget", {"tag": "VCALENDAR"})
    for i in range(5):
        store.put_object(calendar.id, f"daily-{i}.ics",
                         store.prepare(data.open_ended_daily(f"daily-{i}")))
    start = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + dt.timedelta(days=30)
    found, spans = bounded_occurrences(store, calendar.id, start, end, max_instances=40)
    assert len(found) == 60  # two series of 30: the budget is spent after the second
    assert spans == [(start, end)] * 3
    body = freebusy_body(store, store.get_collection_by_id(calendar.id),
                         FeedWindow(start, end, start), max_instances=40)
    events = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert [(e["DTSTART"].dt, e["DTEND"].dt) for e in events] == [(start, end)]


# -- the checks themselves -------------------------------------------------------------------


@pytest.mark.parametrize(("body", "too_deep"), [
    (b'{"a": [1, 2, {"b": []}]}', False),
    (deep_json(32), False),
    (deep_json(33), True),
    (b'{"s": "' + b"[" * 100 + b'"}', False),          # brackets inside a string
    (b'{"s": "\\"' + b"[" * 100 + b'"}', False),       # after an escaped quote
    (b'"' + b'\\"[' * 10_000, False),                  # an unterminated string
    (b"[" * 40, True),                                 # unbalanced, still too deep
])
def test_json_depth_counts_brackets_outside_strings(body: bytes, too_deep: bool) -> None:
    assert json_too_deep(body, 32) is too_deep


@pytest.mark.parametrize(("body", "reason"), [
    (propfind(), None),
    (propfind(LAUGHS, "&l9;"), "a DOCTYPE is not accepted"),
    (propfind(EXTERNAL_DTD), "a DOCTYPE is not accepted"),
    (propfind(inner=nested("D:x", 31)), "XML elements nest deeper than 32"),
    (propfind(inner=nested("D:x", 30)), None),
    (f"<D:propfind {D}/>".encode(), "{DAV:}propfind is empty"),
    (proppatch("x"), "the document element must be {DAV:}propfind"),
    (b"<D:propfind", "malformed XML"),
])
def test_xml_check_refuses_dtds_depth_and_foreign_documents(body: bytes,
                                                              reason: str | None) -> None:
    found = xml_problem(body, 32, frozenset({"{DAV:}propfind"}), needs_child=True)
    assert (found or "").startswith(reason or "") and (found is None) is (reason is None)


@pytest.mark.parametrize(("header", "refused"), [
    (basic(b"alice:secret"), False),
    (basic(b"alice:pass:with:colons"), False),
    ("Bearer whatever", False),
    ("Basic !!!", True),
    (basic(b"alice"), True),
    (basic(b"\xff\xfe:x"), True),
    ("Basic " + base64.b64encode(b"alice:x").decode()[:-2], True),   # padding cut
])
def test_basic_credentials_must_be_base64_utf8_with_a_colon(header: str, refused: bool) -> None:
    assert (basic_credentials_problem(header) is not None) is refused


@pytest.mark.parametrize(("body", "reason"), [
    (ical("SUMMARY:fine\r\n"), None),
    (ical("DESCRIPTION:" + "d" * 2000 + "\r\n"), "a content line is longer than 1000 bytes"),
    (ical("DESCRIPTION:" + "\r\n ".join(["d" * 70] * 10) + "\r\n"), None),  # folded: 700
    (ical("DESCRIPTION:" + "\r\n ".join(["d" * 70] * 20) + "\r\n"),
     "a content line is longer than 1000 bytes"),                          # folded: 1400
    (ical("X-A:b\r\n" * 100), "more than 50 content lines"),
])
def test_ical_shape_bounds_unfolded_lines(body: bytes, reason: str | None) -> None:
    assert ical_problem(body, 1000, 50) == reason
