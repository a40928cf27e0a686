"""sync-collection answered from the store's rows, compared with plain Radicale's own answer
to the same requests (multifilesystem storage, started here): the same responses, statuses and
properties, initial and incremental, whatever the properties asked."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import icalendar
import pytest
import requests

from tests.conftest import PASSWORD, Server, free_port

D, C = "{DAV:}", "{urn:ietf:params:xml:ns:caldav}"
EVENT = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
         "DTSTAMP:20260101T000000Z\r\nDTSTART:20261210T{hour}0000Z\r\nDURATION:PT1H\r\n"
         "{extra}SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
# hrefs that need quoting, and a recurring series
OBJECTS = {"plain.ics": ("10", "", "Plain"),
           "a b&c.ics": ("11", "", "Quoted <href> & text"),
           "weekly.ics": ("12", "RRULE:FREQ=WEEKLY;COUNT=5\r\n", "Weekly")}


@dataclass
class Dav:
    base: str  # the calendar's URL
    auth: tuple[str, str]

    def put(self, href: str, hour: str, extra: str, summary: str) -> None:
        text = EVENT.format(uid=href.removesuffix(".ics"), hour=hour, extra=extra,
                            summary=summary)
        answer = requests.put(self.base + requests.utils.quote(href), data=text.encode(),
                              auth=self.auth, timeout=30,
                              headers={"Content-Type": "text/calendar"})
        assert answer.status_code in (201, 204), answer.text

    def delete(self, href: str) -> None:
        answer = requests.delete(self.base + requests.utils.quote(href), auth=self.auth,
                                 timeout=30)
        assert answer.status_code in (200, 204), answer.text

    def sync(self, token: str, props: str) -> requests.Response:
        body = ('<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:" '
                'xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:X="urn:example:x">'
                f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
                f"{props}</D:sync-collection>")
        return requests.request("REPORT", self.base, data=body.encode(), auth=self.auth,
                                headers={"Depth": "1", "Content-Type": "application/xml"},
                                timeout=60)


def shape(answer: requests.Response) -> tuple[str, list[tuple]]:
    """The token and each response as (href, status or None, ((status, prop tag, value)...)),
    where a calendar-data value is its UID and SUMMARY, and an etag is checked against a GET."""
    assert answer.status_code == 207, answer.text
    root = ET.fromstring(answer.content)
    responses = []
    for response in root.findall(f"{D}response"):
        href = response.findtext(f"{D}href") or ""
        props = []
        for propstat in response.findall(f"{D}propstat"):
            status = propstat.findtext(f"{D}status")
            for prop in propstat.find(f"{D}prop") or []:
                value = prop.text or ""
                if prop.tag == f"{C}calendar-data" and value:
                    event = icalendar.Calendar.from_ical(value).walk("VEVENT")[0]
                    value = f"{event['UID']}|{event['SUMMARY']}"
                elif prop.tag == f"{D}getetag":
                    value = "etag" if value.startswith('"') else value
                props.append((status, prop.tag, value))
        responses.append((href.rsplit("/", 1)[-1], response.findtext(f"{D}status"),
                          tuple(props)))
    # The order of members is each storage's own: compare as sorted lists.
    return root.findtext(f"{D}sync-token") or "", sorted(responses)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("plain-radicale")
    port = free_port()
    config = folder / "radicale.conf"
    config.write_text(f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = none\n"
                      "[rights]\ntype = owner_only\n[storage]\ntype = multifilesystem\n"
                      f"filesystem_folder = {folder / 'collections'}\n[web]\ntype = none\n"
                      "[logging]\nlevel = warning\n")
    process = subprocess.Popen([sys.executable, "-m", "radicale", "--config", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.options(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def make_calendar(url: str, auth: tuple[str, str]) -> Dav:
    base = f"{url}/alice/{uuid.uuid4().hex}/"
    answer = requests.request("MKCALENDAR", base, auth=auth, timeout=30)
    assert answer.status_code == 201, answer.text
    return Dav(base, auth)


PROPS = {
    "etag": "<D:prop><D:getetag/></D:prop>",
    "everything": ("<D:prop><D:getetag/><D:getcontenttype/><C:calendar-data/>"
                   "<X:unknown/></D:prop>"),
    "none": "",
}


@pytest.mark.parametrize("asked", sorted(PROPS))
def test_sync_collection_answers_as_radicale_initially_and_after_changes(
        server: Server, radicale: str, asked: str) -> None:
    doors = [make_calendar(server.url, ("alice", PASSWORD)),
             make_calendar(radicale, ("alice", "any"))]
    for door in doors:
        for href, (hour, extra, summary) in OBJECTS.items():
            door.put(href, hour, extra, summary)
    initial = [shape(door.sync("", PROPS[asked])) for door in doors]
    assert initial[0][1] == initial[1][1]
    if asked != "none":
        assert len(initial[0][1]) == 3
    for door in doors:
        door.put("plain.ics", "13", "", "Plain, moved")
        door.delete("a b&c.ics")
        door.put("new.ics", "14", "", "New")
    later = [shape(door.sync(token, PROPS[asked]))
             for door, (token, _) in zip(doors, initial, strict=True)]
    assert later[0][1] == later[1][1]
    hrefs = {(href, status) for href, status, _ in later[0][1]}
    deleted = {("a%20b%26c.ics", "HTTP/1.1 404 Not Found")}
    assert hrefs == deleted | ({("new.ics", None), ("plain.ics", None)} if asked != "none"
                               else set())
    unchanged = [shape(door.sync(token, PROPS[asked]))
                 for door, (token, _) in zip(doors, later, strict=True)]
    assert unchanged[0][1] == unchanged[1][1] == []


def test_sync_collection_etags_and_texts_are_the_stored_ones(server: Server) -> None:
    door = make_calendar(server.url, ("alice", PASSWORD))
    for href, (hour, extra, summary) in OBJECTS.items():
        door.put(href, hour, extra, summary)
    root = ET.fromstring(door.sync("", PROPS["everything"]).content)
    for response in root.findall(f"{D}response"):
        href = response.findtext(f"{D}href") or ""
        got = requests.get(server.url + href, auth=door.auth, timeout=30)
        assert response.findtext(f".//{D}getetag") == got.headers["ETag"]
        # An XML parser reads the stored CRLF as LF (XML 1.0 2.11).
        assert (response.findtext(f".//{C}calendar-data") or "").encode() == \
            got.content.replace(b"\r\n", b"\n")
        assert response.findtext(f".//{D}getcontenttype") == \
            "text/calendar;charset=utf-8;component=VEVENT"


def test_sync_collection_refuses_an_expired_or_foreign_token(server: Server) -> None:
    door = make_calendar(server.url, ("alice", PASSWORD))
    for token in ("http://radicale.org/ns/sync/cb-999999-1", "garbage"):
        answer = door.sync(token, PROPS["etag"])
        assert answer.status_code == 403
        assert ET.fromstring(answer.content).find(f"{D}valid-sync-token") is not None


def test_sync_collection_keeps_radicales_bound_on_served_vevents(tmp_path: Path) -> None:
    """More VEVENTs in an answer's calendar-data than Radicale's max_expand_occurrence (here
    limits.max_instances = 3) is 400, as Radicale answers it; an etags-only answer reads no
    text and has no such bound."""
    srv = Server(tmp_path / "data", extra_env={"CALBRIDGE_LIMITS_MAX_INSTANCES": "3"})
    srv.start()
    try:
        srv.add_user("alice")
        door = make_calendar(srv.url, ("alice", PASSWORD))
        for number in range(3):
            door.put(f"e{number}.ics", "10", "", f"Event {number}")
        assert door.sync("", PROPS["everything"]).status_code == 207
        door.put("e3.ics", "10", "", "One too many")
        assert door.sync("", PROPS["everything"]).status_code == 400
        token, responses = shape(door.sync("", PROPS["etag"]))
        assert len(responses) == 4
    finally:
        srv.stop()
