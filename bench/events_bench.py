"""Benchmark of `GET /api/access/calendar/events` (issue 5), not a test.

In one run, on one generated calendar: calbridge's events list for a one-month window (every
page), side by side with (a) the same window as a CalDAV REPORT with <C:expand> on a plain
Radicale 3.9 (multifilesystem), and (b) the floor of any answer: the store's index query for
the window plus parsing the returned rows with icalendar (in-process, nothing cached).
The list's instances are checked against recurring-ical-events on the generated data.

    python bench/events_bench.py --events 10000 [--seed 1] [--reps 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import icalendar
import recurring_ical_events
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.caldav_bench import (  # noqa: E402
    CALENDAR,
    ROOT,
    USER,
    CalbridgeServer,
    RadicaleServer,
    Target,
    calendar_query,
    expect,
    load,
)
from bench.generate import bench_windows, collection_text, generate  # noqa: E402


def cli(server: CalbridgeServer, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "bridge.cli", *args], cwd=ROOT,
                            env=server.env(), capture_output=True, text=True, check=True)
    return result.stdout.strip()


def timed(fn, reps: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(samples) * 1000:,.0f} ms (p95 {p95 * 1000:,.0f})"


def list_all(session: requests.Session, base: str, calendar_id: int, start: str, end: str
             ) -> list[dict]:
    """Every page, following nextPageToken (offset paging stops at offset + limit 10,000)."""
    events: list[dict] = []
    params: dict[str, str | int] = {"from": start, "to": end, "calendarId": calendar_id,
                                    "limit": 1000}
    while True:
        response = session.get(f"{base}/api/access/calendar/events", params=params,
                               timeout=600)
        response.raise_for_status()
        body = response.json()
        events += body["events"]
        if not body["meta"]["hasMore"]:
            return events
        params["pageToken"] = body["meta"]["nextPageToken"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--radicale-reps", type=int, default=2)
    args = parser.parse_args(argv)

    today = dt.date(2026, 11, 22)
    objects = generate(args.events, args.seed, today)
    window = bench_windows(today)[1]
    start, end = (window.start.isoformat().replace("+00:00", "Z"),
                  window.end.isoformat().replace("+00:00", "Z"))
    work = Path(tempfile.mkdtemp(prefix="calbridge-events-bench-"))
    export = work / "calendar.ics"
    export.write_text(collection_text(objects))

    calbridge = CalbridgeServer("calbridge", work / "calbridge")
    radicale = RadicaleServer("radicale", work / "radicale")
    try:
        calbridge.start()
        radicale.start()
        started = time.perf_counter()
        cli(calbridge, "import", f"/{USER}/{CALENDAR}/", str(export), "--json")
        print(f"calbridge import of {args.events:,} events: {time.perf_counter() - started:.0f} s",
              flush=True)
        workspace = cli(calbridge, "workspace", "create", "Bench", "--owner", USER)
        token = cli(calbridge, "token", "create", "--user", USER, "--workspace", workspace,
                    "--scopes", "calendars:read")
        rad = Target(radicale)
        print(f"Radicale load: {load(rad, collection_text(objects)):.0f} s", flush=True)

        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"
        calendars = api.get(f"{calbridge.url}/api/access/calendar/calendars").json()["data"]
        calendar_id = calendars[0]["id"]

        # correctness: every instance recurring-ical-events finds, and nothing else
        expected = set()
        for obj in objects:
            for event in recurring_ical_events.of(icalendar.Calendar.from_ical(obj.text)).between(
                    window.start, window.end):
                value = event["DTSTART"].dt
                key = value.isoformat() if not isinstance(value, dt.datetime) else \
                    (value.astimezone(dt.UTC) if value.tzinfo else
                     value.replace(tzinfo=dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
                expected.add((str(event["UID"]), key))
        listed = list_all(api, calbridge.url, calendar_id, start, end)
        got = {(e["iCalUID"], e["start"]["date"] if "date" in e["start"] else e["startUtc"])
               for e in listed}
        print(f"check: {len(got)} instances listed, recurring-ical-events: {len(expected)}; "
              f"{'equal' if got == expected else 'DIFFERENT'}", flush=True)

        ours = timed(lambda: list_all(api, calbridge.url, calendar_id, start, end), args.reps)
        body = calendar_query(window, expand=True)
        theirs = timed(lambda: expect(rad.request("REPORT", rad.calendar_url, body, {
            "Content-Type": "application/xml", "Depth": "1"})[1], 207), args.radicale_reps)

        floor_script = (
            "import icalendar,time,sys,json\n"
            "from radicale_plugin.store_factory import open_store\n"
            f"store=open_store('sqlite:///{calbridge.data_dir}/calbridge.sqlite3')\n"
            f"s,e={int(window.start.timestamp())},{int(window.end.timestamp())}\n"
            "out=[]\n"
            f"for _ in range({args.reps}):\n"
            "    t=time.perf_counter()\n"
            f"    rows=store.objects_in_window({calendar_id},s,e)\n"
            "    cals=[icalendar.Calendar.from_ical(r.record.text) for r in rows]\n"
            "    out.append(time.perf_counter()-t)\n"
            "print(json.dumps([len(rows),out]))\n")
        floor_run = subprocess.run([sys.executable, "-c", floor_script], cwd=ROOT,
                                   capture_output=True, text=True, check=True,
                                   env={**os.environ})
        rows, floor = json.loads(floor_run.stdout)

        ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
        floor_median = statistics.median(floor)
        print(f"\n## GET /events, one month ({window.start.date()}..{window.end.date()}), "
              f"{args.events:,} events, {len(listed):,} instances in {rows} objects\n")
        print("| measure | median (p95) | calbridge / this |")
        print("|---|---:|---:|")
        print(f"| calbridge GET /events (all pages) | {summary(ours)} | 1 |")
        print(f"| (a) Radicale 3.9 REPORT expand, same window | {summary(theirs)} | "
              f"1/{theirs_median / ours_median:.0f} |")
        print(f"| (b) index query + icalendar parse of the {rows} rows | {summary(floor)} | "
              f"{ours_median / floor_median:.2f}x |")
        return 0 if got == expected else 1
    finally:
        calbridge.stop()
        radicale.stop()


if __name__ == "__main__":
    sys.exit(main())
