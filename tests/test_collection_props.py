"""Collection properties kept as Radicale's file storage keeps them (compared with plain
Radicale, started here), and root operations answered as Radicale answers them."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import requests

from tests.carddav_data import D
from tests.conftest import PASSWORD, Server
from tests.radicale_reference import PlainRadicale, plain_radicale

NS = ('xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" '
      'xmlns:CR="urn:ietf:params:xml:ns:carddav" xmlns:ICAL="http://apple.com/ns/ical/" '
      'xmlns:X="urn:example:dead"')
CALENDAR_PROPS = (
    "<D:displayname>Work</D:displayname>"
    "<C:calendar-description>Meetings &amp; more</C:calendar-description>"
    "<ICAL:calendar-color>#FF8800FF</ICAL:calendar-color>"
    '<C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="VTODO"/>'
    "</C:supported-calendar-component-set>"
    "<X:dead>kept ü</X:dead>")
BOOK_PROPS = (
    "<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>"
    "<D:displayname>Friends</D:displayname>"
    "<CR:addressbook-description>People I know</CR:addressbook-description>"
    "<X:dead>kept too</X:dead>")
ASKED = ("<D:displayname/><C:calendar-description/><ICAL:calendar-color/>"
         "<C:supported-calendar-component-set/><CR:addressbook-description/><X:dead/>"
         "<X:other/><D:resourcetype/>")


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlainRadicale]:
    with plain_radicale(tmp_path_factory.mktemp("plain-radicale-props")) as server:
        yield server


def propfind(http: requests.Session, url: str, body: str) -> list[tuple[str, str, str]]:
    """(propstat status, tag, canonical XML of the value) of each property of one response."""
    answer = http.request("PROPFIND", url, data=body.encode(), headers={"Depth": "0"})
    assert answer.status_code == 207, answer.text
    out = []
    for propstat in ET.fromstring(answer.content).iter(f"{D}propstat"):
        for prop in propstat.find(f"{D}prop") or []:
            value = "".join(ET.tostring(child, encoding="unicode") for child in prop)
            out.append((propstat.findtext(f"{D}status") or "", prop.tag,
                        (prop.text or "") + value))
    return sorted(out)


def both(server: Server, radicale: PlainRadicale) -> list[tuple[requests.Session, str]]:
    doors = []
    for base, password in ((server.url, PASSWORD), (radicale.url, "any")):
        http = requests.Session()
        http.auth = ("alice", password)
        doors.append((http, base))
    return doors


def test_calendar_and_address_book_properties_round_trip_as_on_radicale(
        server: Server, radicale: PlainRadicale) -> None:
    answers = []
    for http, base in both(server, radicale):
        name = uuid.uuid4().hex[:8]
        calendar, book = f"{base}/alice/cal-{name}/", f"{base}/alice/book-{name}/"
        made = http.request("MKCALENDAR", calendar, data=(
            f'<?xml version="1.0"?><C:mkcalendar {NS}><D:set><D:prop>{CALENDAR_PROPS}'
            "</D:prop></D:set></C:mkcalendar>").encode())
        assert made.status_code == 201, made.text
        made = http.request("MKCOL", book, data=(
            f'<?xml version="1.0"?><D:mkcol {NS}><D:set><D:prop>{BOOK_PROPS}</D:prop>'
            "</D:set></D:mkcol>").encode())
        assert made.status_code == 201, made.text
        named = f'<?xml version="1.0"?><D:propfind {NS}><D:prop>{ASKED}</D:prop></D:propfind>'
        first = (propfind(http, calendar, named), propfind(http, book, named))
        patched = http.request("PROPPATCH", book, data=(
            f'<?xml version="1.0"?><D:propertyupdate {NS}><D:set><D:prop>'
            "<X:other>new</X:other><D:displayname>Close friends</D:displayname></D:prop>"
            "</D:set><D:remove><D:prop><X:dead/><CR:addressbook-description/></D:prop>"
            "</D:remove></D:propertyupdate>").encode())
        assert patched.status_code == 207, patched.text
        allprop = f'<?xml version="1.0"?><D:propfind {NS}><D:allprop/></D:propfind>'
        # Values of each server's own (the length of a whole-calendar GET: calbridge joins
        # the objects itself, with its own PRODID).
        volatile = {f"{D}getetag", "{http://calendarserver.org/ns/}getctag",
                    f"{D}sync-token", f"{D}getlastmodified", f"{D}getcontentlength"}
        later = (propfind(http, book, named),
                 [p for p in propfind(http, calendar, allprop) if p[1] not in volatile],
                 [p for p in propfind(http, book, allprop) if p[1] not in volatile])
        answers.append((first, later))
    assert answers[0] == answers[1]
    (calendar_props, book_props), _ = answers[0]
    values = {tag: value for status, tag, value in book_props if status.endswith("200 OK")}
    assert values["{urn:ietf:params:xml:ns:carddav}addressbook-description"] == "People I know"
    assert values["{urn:example:dead}dead"] == "kept too"
    values = {tag: value for status, tag, value in calendar_props if status.endswith("200 OK")}
    assert values["{urn:example:dead}dead"] == "kept ü"
    assert values["{http://apple.com/ns/ical/}calendar-color"] == "#FF8800FF"


def test_delete_of_the_root_is_refused_and_changes_nothing(server: Server) -> None:
    http = requests.Session()
    http.auth = ("alice", PASSWORD)
    calendar = f"{server.url}/alice/keep-{uuid.uuid4().hex[:8]}/"
    assert http.request("MKCALENDAR", calendar).status_code == 201
    answer = http.delete(f"{server.url}/")
    assert answer.status_code == 403
    assert http.request("PROPFIND", calendar, headers={"Depth": "0"}).status_code == 207
    assert http.request("PROPFIND", f"{server.url}/", headers={"Depth": "0"}).status_code == 207
