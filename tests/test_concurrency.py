"""Concurrent writers, in one server process and in two over one database, lose no write."""

from __future__ import annotations

import re
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.caldav_data import all_objects
from tests.caldav_data import summary_event as event_text
from tests.conftest import PASSWORD, Server

DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
ICS = {"Content-Type": "text/calendar; charset=utf-8"}
EVENTS_PER_WRITER = 15
INCREMENTS_PER_WRITER = 5


def counter_event(value: int, writers: list[str]) -> str:
    """The shared event: SUMMARY holds a counter, DESCRIPTION the writer of every increment."""
    return event_text("shared-counter", f"count={value}").replace(
        "END:VEVENT", f"DESCRIPTION:{' '.join(writers)}\r\nEND:VEVENT")


def read_counter(text: str) -> tuple[int, list[str]]:
    count = re.search(r"SUMMARY:count=(\d+)", text)
    description = re.search(r"DESCRIPTION:([^\r\n]*)", text)
    assert count and description, text
    return int(count.group(1)), [w for w in description.group(1).split(" ") if w]


def session() -> requests.Session:
    s = requests.Session()
    s.auth = ("alice", PASSWORD)
    return s


def make_calendar(server: Server) -> str:
    url = f"{server.url}/alice/{uuid.uuid4().hex[:12]}/"
    with session() as http:
        assert http.request("MKCALENDAR", url).status_code == 201
    return url


def calendar_contents(http: requests.Session, calendar_url: str) -> dict[str, str]:
    """Name -> text of every object, in one calendar-query REPORT."""
    return {href.rsplit("/", 1)[1]: data for href, _, data in all_objects(http, calendar_url)}


def collection_etag(http: requests.Session, calendar_url: str) -> str:
    response = http.request("PROPFIND", calendar_url, headers={"Depth": "0"}, data=(
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/>'
        '<D:sync-token/></D:prop></D:propfind>'))
    assert response.status_code == 207
    root = ET.fromstring(response.content)
    return f"{root.findtext(f'.//{DAV}getetag')} {root.findtext(f'.//{DAV}sync-token')}"


class Writer:
    """One client: writes its own events and increments the shared counter with If-Match."""

    def __init__(self, name: str, calendar_url: str) -> None:
        self.name = name
        self.calendar_url = calendar_url
        self.http = session()
        self.created: list[str] = []
        self.increments: list[int] = []  # the counter value each successful increment wrote
        self.conflicts = 0
        self.errors: list[str] = []

    def increment(self) -> None:
        url = self.calendar_url + "shared.ics"
        for _attempt in range(200):
            current = self.http.get(url)
            if current.status_code != 200:
                self.errors.append(f"GET shared: {current.status_code}")
                return
            value, writers = read_counter(current.text)
            response = self.http.put(url, headers={**ICS, "If-Match": current.headers["ETag"]},
                                     data=counter_event(value + 1, [*writers, self.name]))
            if response.status_code == 204:
                self.increments.append(value + 1)
                return
            if response.status_code != 412:
                self.errors.append(f"PUT shared: {response.status_code}")
                return
            self.conflicts += 1
        self.errors.append("shared: no increment after 200 attempts")

    def run(self, barrier: threading.Barrier) -> None:
        barrier.wait()
        for i in range(EVENTS_PER_WRITER):
            # Increments of the shared event first, between creations: the writers, started
            # together, then contend for the shared event while the others create.
            if i < INCREMENTS_PER_WRITER:
                self.increment()
            self.put_event(i)

    def put_event(self, i: int) -> None:
        href = f"{self.name}-{i}.ics"
        response = self.http.put(self.calendar_url + href, headers=ICS,
                                 data=event_text(f"{self.name}-{i}", f"{self.name} {i}"))
        if response.status_code == 201:
            self.created.append(href)
        else:
            self.errors.append(f"PUT {href}: {response.status_code}")


def run_writers(calendar_urls: list[str]) -> list[Writer]:
    """One writer per URL (the same calendar, through one or several servers), all at once."""
    writers = [Writer(f"w{n}", url) for n, url in enumerate(calendar_urls)]
    barrier = threading.Barrier(len(writers))
    with ThreadPoolExecutor(len(writers)) as pool:
        for future in [pool.submit(w.run, barrier) for w in writers]:
            future.result()
    for w in writers:
        w.http.close()
    return writers


def assert_no_write_lost(writers: list[Writer], calendar_urls: list[str]) -> None:
    assert [w.errors for w in writers] == [[] for _ in writers]
    assert [len(w.created) for w in writers] == [EVENTS_PER_WRITER] * len(writers)
    expected = {f"{w.name}-{i}.ics" for w in writers for i in range(EVENTS_PER_WRITER)}
    total = INCREMENTS_PER_WRITER * len(writers)
    assert sorted(v for w in writers for v in w.increments) == list(range(1, total + 1)), \
        "two increments were accepted against the same etag"
    with session() as http:
        for url in calendar_urls:  # every server sees the same, complete calendar
            contents = calendar_contents(http, url)
            assert set(contents) == expected | {"shared.ics"}
            for href in expected:
                assert f"SUMMARY:{href[:-4].replace('-', ' ')}" in contents[href].splitlines()
            value, history = read_counter(contents["shared.ics"])
            assert value == total
            # The shared event's history names, for each value, the writer whose PUT set it.
            assert history == [next(w.name for w in writers if v in w.increments)
                               for v in range(1, total + 1)]
        assert len({collection_etag(http, url) for url in calendar_urls}) == 1


def seed_counter(calendar_url: str) -> None:
    with session() as http:
        response = http.put(calendar_url + "shared.ics", headers={**ICS, "If-None-Match": "*"},
                            data=counter_event(0, []))
        assert response.status_code == 201


def test_two_threads_writing_one_calendar_lose_no_write(server: Server) -> None:
    calendar = make_calendar(server)
    seed_counter(calendar)
    writers = run_writers([calendar, calendar])
    assert_no_write_lost(writers, [calendar])


@pytest.fixture
def second_server(own_server: Server) -> Iterator[Server]:
    """Another server process over the same store."""
    other = Server(data_dir=own_server.data_dir, extra_env=own_server.extra_env)
    other.start()
    yield other
    other.stop()


def test_two_server_processes_on_one_database_lose_no_write(
        own_server: Server, second_server: Server) -> None:
    assert own_server.port != second_server.port
    calendar = make_calendar(own_server)
    path = calendar.removeprefix(own_server.url)
    seed_counter(calendar)
    urls = [own_server.url + path, second_server.url + path]
    writers = run_writers(urls)
    assert_no_write_lost(writers, urls)
    assert all(p.process is not None and p.process.poll() is None
               for p in (own_server, second_server))


def race(count: int, attempt: Callable[[int], requests.Response]) -> list[requests.Response]:
    barrier = threading.Barrier(count)

    def go(n: int) -> requests.Response:
        barrier.wait()
        return attempt(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(go, range(count)))


def test_racing_puts_with_the_same_if_match_let_exactly_one_win(server: Server) -> None:
    calendar = make_calendar(server)
    url = calendar + "contested.ics"
    with session() as http:
        created = http.put(url, headers=ICS, data=event_text("contested", "original"))
        assert created.status_code == 201
        etag = created.headers["ETag"]

        def attempt(n: int) -> requests.Response:
            with session() as own:
                return own.put(url, headers={**ICS, "If-Match": etag},
                               data=event_text("contested", f"writer {n}"))

        responses = race(6, attempt)
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [204] + [412] * 5
        winner = next(n for n, r in enumerate(responses) if r.status_code == 204)
        final = http.get(url)
        assert f"SUMMARY:writer {winner}" in final.text
        assert final.headers["ETag"] == responses[winner].headers["ETag"]


def test_stale_if_match_gets_412_and_keeps_the_newer_version(server: Server) -> None:
    calendar = make_calendar(server)
    url = calendar + "stale.ics"
    with session() as http:
        stale = http.put(url, headers=ICS, data=event_text("stale", "v1")).headers["ETag"]
        fresh = http.put(url, headers={**ICS, "If-Match": stale},
                         data=event_text("stale", "v2"))
        assert fresh.status_code == 204
        assert http.put(url, headers={**ICS, "If-Match": stale},
                        data=event_text("stale", "v3")).status_code == 412
        assert http.delete(url, headers={"If-Match": stale}).status_code == 412
        current = http.get(url)
        assert "SUMMARY:v2" in current.text and current.headers["ETag"] == fresh.headers["ETag"]
