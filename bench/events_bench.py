"""Benchmark of `GET /api/access/calendar/events` (issue 5), not a test.

In one run, on one generated calendar: calbridge's events list for a one-month window (every
page), side by side with (a) the same window as a CalDAV REPORT with <C:expand> on a plain
Radicale 3.9 (multifilesystem), and (b) the floor of any answer: the store's index query for
the window plus parsing the returned rows with icalendar (in-process, nothing cached).
The list's instances are checked against recurring-ical-events on the generated data.

    python bench/events_bench.py --events 10000 [--seed 1] [--reps 5] [--baseline REV]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
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
    ServerProcess,
    Target,
    calendar_query,
    expect,
    load,
    snapshot,
)
from bench.generate import (  # noqa: E402
    GeneratedObject,
    Window,
    bench_windows,
    collection_text,
    generate,
)


def cli(server: CalbridgeServer, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "bridge.cli", *args], cwd=server.cwd,
                            env=server.env(), capture_output=True, text=True, check=True)
    return result.stdout.strip()


def timed(fn: Callable[[], object], reps: int) -> list[float]:
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


def list_all(session: requests.Session, base: str, calendar_id: int, start: str, end: str,
             pages: list[float] | None = None) -> list[dict]:
    """Every page, following nextPageToken (offset paging stops at offset + limit 10,000);
    each page's seconds are appended to ``pages`` when given."""
    events: list[dict] = []
    params: dict[str, str | int] = {"from": start, "to": end, "calendarId": calendar_id,
                                    "limit": 1000}
    while True:
        started = time.perf_counter()
        response = session.get(f"{base}/api/access/calendar/events", params=params,
                               timeout=600)
        response.raise_for_status()
        body = response.json()
        if pages is not None:
            pages.append(time.perf_counter() - started)
        events += body["events"]
        if not body["meta"]["hasMore"]:
            return events
        params["pageToken"] = body["meta"]["nextPageToken"]


@dataclass
class EventsApi:
    """A loaded calbridge server, seen through a read token."""

    server: CalbridgeServer
    session: requests.Session
    calendar_id: int

    def list(self, start: str, end: str, pages: list[float] | None = None) -> list[dict]:
        return list_all(self.session, self.server.url, self.calendar_id, start, end, pages)

    def page_times(self, start: str, end: str, reps: int) -> list[float]:
        """The median seconds of each page of the window, in page order, over ``reps`` runs."""
        runs: list[list[float]] = []
        for _ in range(reps):
            runs.append([])
            self.list(start, end, runs[-1])
        return [statistics.median(run[i] for run in runs) for i in range(len(runs[0]))]


def loaded_api(server: CalbridgeServer, export: Path, events: int) -> EventsApi:
    """Import the export into the server's user's calendar and open a read-token session."""
    started = time.perf_counter()
    cli(server, "import", f"/{USER}/{CALENDAR}/", str(export), "--json")
    print(f"{server.name} import of {events:,} events: {time.perf_counter() - started:.0f} s",
          flush=True)
    workspace = cli(server, "workspace", "create", "Bench", "--owner", USER)
    token = cli(server, "token", "create", "--user", USER, "--workspace", workspace,
                "--scopes", "calendars:read")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    calendars = session.get(f"{server.url}/api/access/calendar/calendars").json()["data"]
    return EventsApi(server, session, calendars[0]["id"])


def expected_instances(objects: list[GeneratedObject], window: Window) -> set[tuple[str, str]]:
    """(UID, start) of every instance recurring-ical-events finds in the window."""
    expected = set()
    for obj in objects:
        for event in recurring_ical_events.of(icalendar.Calendar.from_ical(obj.text)).between(
                window.start, window.end):
            value = event["DTSTART"].dt
            key = value.isoformat() if not isinstance(value, dt.datetime) else \
                (value.astimezone(dt.UTC) if value.tzinfo else
                 value.replace(tzinfo=dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
            expected.add((str(event["UID"]), key))
    return expected


def listed_instances(listed: list[dict]) -> set[tuple[str, str]]:
    return {(e["iCalUID"], e["start"]["date"] if "date" in e["start"] else e["startUtc"])
            for e in listed}


FLOOR_SCRIPT = """\
import icalendar, json, time
try:
    from radicale_plugin.store_factory import open_store
except ImportError:  # the store's factory moved: build it from the engine
    from bridge.store.engine import get_engine
    from bridge.store.store import CalendarStore
    def open_store(url):
        return CalendarStore(get_engine(url))
store = open_store({url!r})
out = []
for _ in range({reps}):
    t = time.perf_counter()
    rows = store.objects_in_window({calendar_id}, {start}, {end})
    cals = [icalendar.Calendar.from_ical(r.record.text) for r in rows]
    out.append(time.perf_counter() - t)
print(json.dumps([len(rows), out]))
"""


def floor(api: EventsApi, window: Window, reps: int) -> tuple[int, list[float]]:
    """The index query for the window plus parsing its rows, in a fresh process."""
    script = FLOOR_SCRIPT.format(
        url=f"sqlite:///{api.server.data_dir}/calbridge.sqlite3", reps=reps,
        calendar_id=api.calendar_id, start=int(window.start.timestamp()),
        end=int(window.end.timestamp()))
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={**os.environ})
    rows, samples = json.loads(run.stdout)
    return rows, samples


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--radicale-reps", type=int, default=2)
    parser.add_argument("--no-radicale", action="store_true",
                        help="calbridge alone (at 100,000 events Radicale's load takes hours)")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run calbridge from a copy of this commit on the same data, "
                             "and print the after/before ratio")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    today = dt.date(2026, 11, 22)
    objects = generate(args.events, args.seed, today)
    window = bench_windows(today)[1]
    start, end = (window.start.isoformat().replace("+00:00", "Z"),
                  window.end.isoformat().replace("+00:00", "Z"))
    work = Path(tempfile.mkdtemp(prefix="calbridge-events-bench-"))
    export = work / "calendar.ics"
    export.write_text(collection_text(objects))
    servers: list[ServerProcess] = [CalbridgeServer("calbridge", work / "calbridge")]
    if not args.no_radicale:
        servers.append(RadicaleServer("radicale", work / "radicale"))
    if args.baseline:
        commit = snapshot(args.baseline, work / "baseline-code")
        servers.append(CalbridgeServer(f"baseline {commit}", work / "baseline",
                                       cwd=work / "baseline-code"))
    try:
        for server in servers:
            server.start()
        apis = [loaded_api(s, export, args.events) for s in servers
                if isinstance(s, CalbridgeServer)]
        expected = expected_instances(objects, window)
        ok = True
        for api in apis:
            got = listed_instances(api.list(start, end))
            ok = ok and got == expected
            print(f"check {api.server.name}: {len(got)} instances listed, "
                  f"recurring-ical-events: {len(expected)}; "
                  f"{'equal' if got == expected else 'DIFFERENT'}", flush=True)
        print_pages(apis[0].page_times(start, end, args.reps))
        ours = [timed(functools.partial(api.list, start, end), args.reps) for api in apis]
        radicale = [s for s in servers if isinstance(s, RadicaleServer)]
        theirs = radicale_expand(Target(radicale[0]), objects, window, args.radicale_reps) \
            if radicale else []
        rows, floor_samples = floor(apis[0], window, args.reps)
        print_table(args, window, rows, len(expected), ours, theirs, floor_samples,
                    [api.server.name for api in apis])
        return 0 if ok else 1
    finally:
        for server in servers:
            server.stop()


def radicale_expand(rad: Target, objects: list[GeneratedObject], window: Window, reps: int
                    ) -> list[float]:
    print(f"Radicale load: {load(rad, collection_text(objects)):.0f} s", flush=True)
    body = calendar_query(window, expand=True)
    return timed(lambda: expect(rad.request("REPORT", rad.calendar_url, body, {
        "Content-Type": "application/xml", "Depth": "1"})[1], 207), reps)


def print_pages(pages: list[float]) -> None:
    """Each page of 1,000 instances should cost what the first costs."""
    later = pages[1:] or pages
    print(f"\npages of 1,000: {len(pages)}; first {pages[0] * 1000:,.0f} ms, later pages "
          f"median {statistics.median(later) * 1000:,.0f} ms, slowest "
          f"{max(later) * 1000:,.0f} ms ({max(later) / pages[0]:.2f}x the first)", flush=True)
    print("per page ms: " + ", ".join(f"{p * 1000:,.0f}" for p in pages), flush=True)


def print_table(args: argparse.Namespace, window: Window, rows: int, instances: int,
                ours: list[list[float]], theirs: list[float], floor_samples: list[float],
                names: list[str]) -> None:
    ours_median = statistics.median(ours[0])
    print(f"\n## GET /events, one month ({window.start.date()}..{window.end.date()}), "
          f"{args.events:,} events, {instances:,} instances in {rows} objects\n")
    print("| measure | median (p95) | calbridge / this |")
    print("|---|---:|---:|")
    print(f"| calbridge GET /events (all pages) | {summary(ours[0])} | 1 |")
    for name, samples in zip(names[1:], ours[1:], strict=True):
        print(f"| {name} GET /events (all pages) | {summary(samples)} | "
              f"{ours_median / statistics.median(samples):.2f}x |")
    if theirs:
        print(f"| (a) Radicale 3.9 REPORT expand, same window | {summary(theirs)} | "
              f"1/{statistics.median(theirs) / ours_median:.0f} |")
    print(f"| (b) index query + icalendar parse of the {rows} rows | {summary(floor_samples)} "
          f"| {ours_median / statistics.median(floor_samples):.2f}x |")


if __name__ == "__main__":
    sys.exit(main())
