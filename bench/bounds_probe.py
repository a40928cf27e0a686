"""Times of the requests issue 11 found unbounded, against a fresh calbridge (not a test).

Endless MINUTELY and SECONDLY series PUT over CalDAV, then: a 100-year and a 10-year
`GET /api/access/calendar/events`, every page of a week by pageToken, expand REPORTs of an
hour and of a week, REST free/busy of a week, and /api/health after each. Each line gives the
status and the wall time of one request (default limits, the server from the working tree).

    python bench/bounds_probe.py [--postgres-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.caldav_bench import CALENDAR, PASSWORD, ROOT, USER, CalbridgeServer  # noqa: E402

EVENTS = "/api/access/calendar/events"


def series(uid: str, freq: str) -> str:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge bench//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T000000Z\r\n"
            f"DURATION:PT1S\r\nRRULE:FREQ={freq}\r\nSUMMARY:{uid}\r\nEND:VEVENT\r\n"
            "END:VCALENDAR\r\n")


def expand(start: str, end: str) -> str:
    return ('<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data>'
            f'<C:expand start="{start}" end="{end}"/></C:calendar-data></D:prop><C:filter>'
            '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
            f'<C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter>'
            "</C:filter></C:calendar-query>")


def page_through(api: requests.Session, lists: str, calendar_id: int) -> None:
    """One endless series' hour, every page of 1000 instances, by pageToken."""
    params: dict[str, str | int] = {"from": "2026-06-01T00:00:00Z",
                                    "to": "2026-06-01T01:00:00Z",
                                    "calendarId": calendar_id, "limit": 1000}
    started, pages, count = time.perf_counter(), 0, 0
    body = api.get(lists, params=params, timeout=600).json()
    while True:
        pages, count = pages + 1, count + body["meta"]["count"]
        if not body["meta"]["hasMore"]:
            break
        body = api.get(lists, params={**params, "pageToken": body["meta"]["nextPageToken"]},
                       timeout=600).json()
    print(f"| GET /events one hour, every page of 1000 by pageToken ({pages} pages, "
          f"{count} instances) | 200 | {time.perf_counter() - started:.2f} s | |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres-url", default="")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="calbridge-bounds-"))
    store_env = {"CALBRIDGE_STORAGE_DATABASE_URL": args.postgres_url} if args.postgres_url \
        else {}
    server = CalbridgeServer("calbridge", work, store_env=store_env)
    server.start()
    try:
        def cli(*command: str) -> str:
            return subprocess.run([sys.executable, "-m", "bridge.cli", *command], cwd=ROOT,
                                  env=server.env(), capture_output=True, text=True,
                                  check=True).stdout.strip()

        dav = requests.Session()
        dav.auth = (USER, PASSWORD)
        calendar = f"{server.url}/{USER}/{CALENDAR}/"
        dav.request("MKCALENDAR", calendar).raise_for_status()
        workspace = cli("workspace", "create", "Probe", "--owner", USER)
        api = requests.Session()
        api.headers["Authorization"] = "Bearer " + cli(
            "token", "create", "--user", USER, "--workspace", workspace, "--scopes",
            "calendars:read")
        calendar_id = api.get(f"{server.url}/api/access/calendar/calendars").json()["data"][0]["id"]

        def probe(name: str, method: str, url: str, **kwargs: object) -> requests.Response:
            started = time.perf_counter()
            response = (dav if url.startswith(calendar) else api).request(
                method, url, timeout=600, **kwargs)  # type: ignore[arg-type]
            took = time.perf_counter() - started
            health = requests.get(f"{server.url}/api/health", timeout=600).status_code
            print(f"| {name} | {response.status_code} | {took:.2f} s | {health} |", flush=True)
            return response

        print("| request | status | time | /api/health after |\n|---|---:|---:|---:|")
        for freq in ("MINUTELY", "SECONDLY"):
            probe(f"CalDAV PUT endless FREQ={freq}", "PUT", f"{calendar}{freq}.ics",
                  data=series(freq, freq), headers={"Content-Type": "text/calendar"})
        lists = f"{server.url}{EVENTS}"
        for name, start, end in (("100 years", "2026-06-01T00:00:00Z", "2126-06-01T00:00:00Z"),
                                 ("10 years", "2026-06-01T00:00:00Z", "2036-05-28T00:00:00Z")):
            probe(f"GET /events {name}, first page of 50", "GET", lists, params={
                "from": start, "to": end, "calendarId": calendar_id})
        page_through(api, lists, calendar_id)
        for name, start, end in (("an hour", "20300101T000000Z", "20300101T010000Z"),
                                 ("a week", "20300101T000000Z", "20300108T000000Z")):
            probe(f"REPORT expand, {name}", "REPORT", calendar, data=expand(start, end),
                  headers={"Depth": "1", "Content-Type": "application/xml"})
        probe("REST free/busy, a week", "GET", f"{server.url}/api/access/calendar/freebusy",
              params={"from": "2030-01-01T00:00:00Z", "to": "2030-01-08T00:00:00Z"})
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
