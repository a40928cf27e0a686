"""`calbridge serve --workers 2`: two processes on one store, SQLite included. Concurrent writes
through both all land, and a change made through one process is what the next request sees,
whichever process answers it (the caches are per process, keyed by what the store says)."""

from __future__ import annotations

import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.api_helpers import EVENTS, WorkspaceClients
from tests.conftest import PASSWORD, QUIET_AUTH, Server, store_env

EVENT = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
         "DTSTAMP:20260101T000000Z\r\nDTSTART:20261210T100000Z\r\nDURATION:PT1H\r\n"
         "SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
AUTH = ("alice", PASSWORD)


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
            backend: str) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp(f"workers-{backend}"),
                 extra_env={**QUIET_AUTH, **store_env(request, backend),
                            "CALBRIDGE_SERVER_WORKERS": "2"})
    srv.start()
    srv.add_user("alice")
    yield srv
    srv.stop()


def worker_pids(server: Server) -> set[int]:
    assert server.process is not None
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.process.pid)],
                              capture_output=True, text=True, check=True).stdout.split()
    return {int(pid) for pid in children}


def make_calendar(server: Server) -> str:
    url = f"{server.url}/alice/{uuid.uuid4().hex}/"
    answer = requests.request("MKCALENDAR", url, auth=AUTH, timeout=30)
    assert answer.status_code == 201, answer.text
    return url


def test_serve_with_two_workers_runs_two_processes(workers: Server) -> None:
    assert len(worker_pids(workers)) == 2
    assert requests.get(f"{workers.url}/api/health", timeout=10).json()["status"] == "ok"


def test_concurrent_writes_through_both_processes_all_land(workers: Server) -> None:
    calendar = make_calendar(workers)
    statuses: list[int] = []
    barrier = threading.Barrier(16)

    def put(number: int) -> None:
        barrier.wait()
        for round_ in range(3):
            uid = f"w{number}-{round_}"
            answer = requests.put(f"{calendar}{uid}.ics", auth=AUTH, timeout=60,
                                  data=EVENT.format(uid=uid, summary=uid).encode())
            statuses.append(answer.status_code)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * 48
    listing = requests.request("PROPFIND", calendar, auth=AUTH, headers={"Depth": "1"},
                               timeout=60)
    assert listing.text.count("<response>") == 49  # the calendar and its 48 events


def test_a_change_through_one_process_is_seen_by_every_next_request(
        workers: Server, tmp_path: Path) -> None:
    calendar = make_calendar(workers)
    href = f"{calendar}moving.ics"
    for version in range(8):
        summary = f"version {version}"
        answer = requests.put(href, auth=AUTH, timeout=30,
                              data=EVENT.format(uid="moving", summary=summary).encode())
        assert answer.status_code in (201, 204), answer.text
        # Several reads in a row: with two processes they are answered by both.
        for _ in range(4):
            got = requests.get(href, auth=AUTH, timeout=30)
            assert f"SUMMARY:{summary}" in got.text
            whole = requests.get(calendar, auth=AUTH, timeout=30)
            assert whole.text.count(f"SUMMARY:{summary}") == 1


def test_the_rest_door_sees_caldav_writes_across_processes(workers: Server) -> None:
    workers.add_user("mallory")
    clients = WorkspaceClients.create(workers, f"Workers {uuid.uuid4().hex[:6]}")
    calendar = clients.admin.post("/calendars", json={"name": "Shared store"}).json()
    for number in range(5):
        uid = f"rest-{number}"
        requests.put(f"{calendar['caldavUrl']}{uid}.ics", auth=AUTH, timeout=30,
                     data=EVENT.format(uid=uid, summary=uid).encode()).raise_for_status()
        listed = clients.admin.get(EVENTS, params={
            "calendarId": calendar["id"], "from": "2026-12-01T00:00:00Z",
            "to": "2026-12-31T00:00:00Z"})
        assert listed.status_code == 200, listed.text
        assert sorted(e["summary"] for e in listed.json()["events"]) == \
            [f"rest-{n}" for n in range(number + 1)]
