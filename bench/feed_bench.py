"""Feed benchmark: calbridge's `GET /ics/<token>.ics` against Radicale 3.9's GET of the same
collection, and the 304 path at two calendar sizes.

It generates a seeded calendar (bench/generate.py), loads it into `calbridge serve` with
`calbridge import` (the full size and a small calendar made of its first objects) and into a
plain Radicale (multifilesystem: the same one-object-per-file layout a whole-collection PUT
leaves, written directly because a 10,000-object PUT takes Radicale minutes), checks that the
feed and Radicale serve the same events, then times over keep-alive sessions:

- feed GET (full), *cold*: a CalDAV PUT (untimed) before each request moves the revision, so
  the body is built and streamed from the database; *cached*: the same revision again (what a
  subscriber that sends no validators, such as Google Calendar, costs); and Radicale's GET of
  the collection, both with `Accept-Encoding: gzip` (as subscribers send) and without;
- the 304 path (If-None-Match, If-Modified-Since) at the small and the full size, interleaved;
- for reference: calbridge's own CalDAV GET of the collection, Radicale's answer to a GET with
  its own ETag in If-None-Match, and the free/busy feed cold and cached.

Not a test: nothing here asserts a time. It exits 1 if the feed and Radicale disagree.

    python bench/feed_bench.py [--events 10000] [--small 1000] [--seed 1] [--reps 7]
        [--reps-304 200] [--today YYYY-MM-DD] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests
from caldav_bench import PASSWORD, USER, CalbridgeServer, RadicaleServer, Sampled, log
from generate import GeneratedObject, collection_text, generate

BIG_CALENDAR = "cal"
SMALL_CALENDAR = "small"
TIMEOUT = 600


# -- loading ----------------------------------------------------------------------------------


def calbridge_cli(server: CalbridgeServer, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "bridge.cli", *args], cwd=server.cwd,
                            env=server.env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"calbridge {' '.join(args)}: {result.stderr}")
    return result.stdout


def load_calbridge(server: CalbridgeServer, calendars: dict[str, Sequence[GeneratedObject]],
                   work_dir: Path) -> tuple[str, str, float]:
    """A workspace, an admin token, and each calendar imported; returns (workspace uuid,
    token, seconds spent importing the largest calendar)."""
    workspace = json.loads(calbridge_cli(server, "workspace", "create", "bench", "--owner",
                                         USER, "--json"))["uuid"]
    token = json.loads(calbridge_cli(server, "token", "create", "--user", USER, "--workspace",
                                     workspace, "--scopes", "calendars:admin", "--json")
                       )["token"]
    seconds = 0.0
    for name, objects in calendars.items():
        path = work_dir / f"{name}.ics"
        path.write_text(collection_text(objects), encoding="utf-8")
        log(f"calbridge: importing {len(objects):,} objects into /{USER}/{name}/")
        started = time.perf_counter()
        calbridge_cli(server, "import", f"/{USER}/{name}/", str(path), "--json")
        seconds = max(seconds, time.perf_counter() - started)
    return workspace, token, seconds


def load_radicale(server: RadicaleServer, name: str, objects: Sequence[GeneratedObject]) -> None:
    """Radicale's multifilesystem layout: one file per object and the collection's props."""
    folder = server.data_dir / "collections" / "collection-root" / USER / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".Radicale.props").write_text(json.dumps(
        {"tag": "VCALENDAR", "D:displayname": name,
         "C:supported-calendar-component-set": "VEVENT"}), encoding="utf-8")
    for obj in objects:
        (folder / obj.href).write_text(obj.text, encoding="utf-8", newline="")


# -- requests ---------------------------------------------------------------------------------


@dataclass
class Fetched:
    seconds: float
    status: int
    headers: requests.structures.CaseInsensitiveDict
    body: bytes  # as sent (compressed when Content-Encoding says so)

    def text(self) -> str:
        data = gzip.decompress(self.body) if self.headers.get("Content-Encoding") == "gzip" \
            else self.body
        return data.decode("utf-8")


def timed_get(session: requests.Session, url: str, headers: dict[str, str] | None = None
              ) -> Fetched:
    """One GET, timed until the last byte of the body (not decompressed) has arrived."""
    started = time.perf_counter()
    response = session.get(url, headers=headers or {}, stream=True, timeout=TIMEOUT)
    body = response.raw.read(decode_content=False)
    seconds = time.perf_counter() - started
    response.close()
    return Fetched(seconds, response.status_code, response.headers, body)


def expect(fetched: Fetched, status: int, what: str) -> Fetched:
    if fetched.status != status:
        raise RuntimeError(f"{what}: {fetched.status}, expected {status}: {fetched.body[:300]!r}")
    return fetched


GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}
_UID = re.compile(r"^UID:(.*)$", re.MULTILINE)


def event_count(text: str) -> int:
    return text.count("BEGIN:VEVENT\r\n")


# -- timing -----------------------------------------------------------------------------------


@dataclass
class Timing(Sampled):
    label: str
    samples: list[float] = field(default_factory=list)
    events: int | None = None
    wire_bytes: int | None = None
    statuses: set[int] = field(default_factory=set)

    def add(self, fetched: Fetched) -> None:
        self.samples.append(fetched.seconds)
        self.statuses.add(fetched.status)
        self.wire_bytes = len(fetched.body)


def repeat(timing: Timing, reps: int, budget: float, run: Callable[[], Fetched],
           before: Callable[[], None] | None = None) -> Timing:
    """Up to ``reps`` timed requests (``before`` runs untimed ahead of each); stops early once
    ``budget`` seconds of timed requests were spent."""
    for _ in range(reps):
        if before is not None:
            before()
        timing.add(run())
        if sum(timing.samples) > budget:
            break
    return timing


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def ratio(value: float) -> str:
    return f"1/{1 / value:,.1f}" if value < 0.5 else f"{value:.2f}x"


def mib(size: int | None) -> str:
    return "" if size is None else f"{size / 2**20:.2f}"


# -- the run ----------------------------------------------------------------------------------


def new_event(number: int, today: dt.date) -> tuple[str, str]:
    uid = f"feed-bench-change-{number}-{uuid.uuid4().hex[:8]}"
    start = dt.datetime.combine(today + dt.timedelta(days=3), dt.time(9), dt.UTC)
    stamp = start.strftime("%Y%m%dT%H%M%SZ")
    end = (start + dt.timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
    return uid, ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge//feed bench//EN\r\n"
                 f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:{stamp}\r\nDTSTART:{stamp}\r\n"
                 f"DTEND:{end}\r\nSUMMARY:Change {number}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


class FeedRun:
    """One run: both servers loaded, the sessions and feeds, and the timings as they come."""

    def __init__(self, args: argparse.Namespace, calbridge: CalbridgeServer,
                 radicale: RadicaleServer, workspace: str, token: str) -> None:
        self.args = args
        self.calbridge = calbridge
        self.timings: dict[str, Timing] = {}
        self.notes: list[str] = []
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {token}"
        self.base = f"{calbridge.url}/api/v2/w/{workspace}/calendars"
        listed = self.api.get(self.base, params={"pageSize": 200}, timeout=60).json()["items"]
        self.ids = {c["uuid"]: c["id"] for c in listed}
        self.big_feed = self.create_feed(BIG_CALENDAR, "full")
        self.small_feed = self.create_feed(SMALL_CALENDAR, "full")
        self.busy_feed = self.create_feed(BIG_CALENDAR, "freebusy")
        self.subscriber = requests.Session()          # no credentials: the URL is the secret
        self.dav = requests.Session()
        self.dav.auth = (USER, PASSWORD)
        self.radicale_session = requests.Session()
        self.radicale_session.auth = (USER, PASSWORD)
        self.radicale_url = f"{radicale.url}/{USER}/{BIG_CALENDAR}/"
        self.caldav_url = f"{calbridge.url}/{USER}/{BIG_CALENDAR}/"
        self.changes = 0

    def create_feed(self, calendar: str, kind: str) -> str:
        answer = self.api.post(f"{self.base}/{self.ids[calendar]}/feeds", json={"kind": kind},
                               timeout=60)
        if answer.status_code != 201:
            raise RuntimeError(f"feed creation: {answer.status_code} {answer.text}")
        return str(answer.json()["url"])

    def change(self) -> None:
        """A CalDAV PUT of a new event: the calendar's revision moves."""
        self.changes += 1
        uid, text = new_event(self.changes, self.args.today)
        answer = self.dav.put(f"{self.caldav_url}{uid}.ics", data=text.encode(), timeout=60,
                              headers={"Content-Type": "text/calendar; charset=utf-8"})
        if answer.status_code != 201:
            raise RuntimeError(f"PUT change: {answer.status_code} {answer.text[:300]}")

    @staticmethod
    def getter(session: requests.Session, url: str, headers: dict[str, str], what: str
               ) -> Callable[[], Fetched]:
        """One timed GET that must answer 200."""
        return lambda: expect(timed_get(session, url, headers), 200, what)

    def row(self, key: str, label: str, events: int | None = None) -> Timing:
        self.timings[key] = Timing(label, events=events)
        return self.timings[key]

    def first_requests(self) -> tuple[Fetched, str, bool]:
        """Radicale's first GET (it builds its item cache) and the feed's, compared."""
        log("warm-up: Radicale's first GET builds its item cache")
        radicale_first = expect(timed_get(self.radicale_session, self.radicale_url, GZIP), 200,
                                "Radicale GET")
        feed_first = expect(timed_get(self.subscriber, self.big_feed, GZIP), 200, "feed GET")
        self.notes.append(f"first request after the load: Radicale GET "
                          f"{ms(radicale_first.seconds)} ms, feed GET {ms(feed_first.seconds)} ms")
        radicale_text, feed_text = radicale_first.text(), feed_first.text()
        same_uids = set(_UID.findall(radicale_text)) == set(_UID.findall(feed_text))
        same_events = event_count(radicale_text) == event_count(feed_text)
        self.notes.append(
            f"check: the feed and Radicale's GET carry {event_count(feed_text):,} and "
            f"{event_count(radicale_text):,} VEVENTs, UIDs "
            f"{'equal' if same_uids else 'DIFFERENT'}; feed VTIMEZONEs: "
            f"{feed_text.count('BEGIN:VTIMEZONE')}, first one before the first VEVENT: "
            f"{feed_text.find('BEGIN:VTIMEZONE') < feed_text.find('BEGIN:VEVENT')}")
        return radicale_first, feed_text, same_uids and same_events

    def time_full_gets(self, n: int) -> None:
        args = self.args
        for coding, headers in (("gzip", GZIP), ("identity", IDENTITY)):
            log(f"timing Radicale GET ({coding})")
            repeat(self.row(f"radicale_{coding}", f"Radicale GET collection ({coding})", n),
                   args.reps, args.budget,
                   self.getter(self.radicale_session, self.radicale_url, headers,
                               "Radicale GET"))
            log(f"timing feed GET cold ({coding})")
            repeat(self.row(f"feed_cold_{coding}", f"feed GET full, cold ({coding})", n),
                   args.reps, args.budget,
                   self.getter(self.subscriber, self.big_feed, headers, "feed GET"),
                   before=self.change)
            log(f"timing feed GET cached ({coding})")
            expect(timed_get(self.subscriber, self.big_feed, headers), 200, "feed GET")
            repeat(self.row(f"feed_cached_{coding}", f"feed GET full, cached ({coding})", n),
                   args.reps * 3, args.budget,
                   self.getter(self.subscriber, self.big_feed, headers, "feed GET"))

    def time_not_modified(self, small: int) -> None:
        log("timing the 304 path, small and full size interleaved")
        validators = {}
        # Last-Modified never names the second of the latest change (a second write within
        # it would go unnoticed): let that second pass after the cold runs' last PUT.
        time.sleep(1.1)
        for url in (self.small_feed, self.big_feed):
            fetched = expect(timed_get(self.subscriber, url, GZIP), 200, "feed GET")
            validators[url] = (fetched.headers["ETag"], fetched.headers["Last-Modified"])
        sizes = {self.small_feed: small, self.big_feed: self.args.events}
        for kind in ("etag", "date"):
            for url in (self.small_feed, self.big_feed):
                label = "If-None-Match" if kind == "etag" else "If-Modified-Since"
                self.row(f"304_{kind}_{sizes[url]}", f"feed 304 ({label}), {sizes[url]:,} events")
            for _ in range(self.args.reps_304):
                for url in (self.small_feed, self.big_feed):
                    etag, date = validators[url]
                    conditional = {"If-None-Match": etag} if kind == "etag" else \
                        {"If-Modified-Since": date}
                    self.timings[f"304_{kind}_{sizes[url]}"].add(expect(
                        timed_get(self.subscriber, url, {**GZIP, **conditional}), 304,
                        "feed 304"))

    def time_references(self, n: int, radicale_first: Fetched) -> None:
        args = self.args
        rss_before_busy = self.calbridge.rss_mib() or 0.0
        log("reference: calbridge CalDAV GET, Radicale with If-None-Match, free/busy feed")
        repeat(self.row("caldav_get", "calbridge CalDAV GET collection (gzip)", n), args.reps,
               args.budget,
               lambda: expect(timed_get(self.dav, self.caldav_url, GZIP), 200, "CalDAV GET"))
        radicale_etag = radicale_first.headers.get("ETag", '"none"')
        repeat(self.row("radicale_inm", "Radicale GET with its ETag in If-None-Match (gzip)",
                        n),
               3, args.budget, lambda: timed_get(self.radicale_session, self.radicale_url,
                                                 {**GZIP, "If-None-Match": radicale_etag}))
        repeat(self.row("busy_cold", "free/busy feed, cold (gzip; 30 days back, 180 ahead)"),
               args.busy_reps, args.budget * 2,
               lambda: expect(timed_get(self.subscriber, self.busy_feed, GZIP), 200,
                              "free/busy GET"),
               before=self.change)
        busy = self.timings["busy_cold"]
        busy.events = event_count(expect(timed_get(self.subscriber, self.busy_feed, GZIP), 200,
                                         "free/busy GET").text())
        repeat(self.row("busy_cached", "free/busy feed, cached (gzip)", busy.events),
               args.reps * 3, args.budget,
               lambda: expect(timed_get(self.subscriber, self.busy_feed, GZIP), 200,
                              "free/busy GET"))
        self.notes.append(f"calbridge RSS before the reference rows (CalDAV GET, free/busy): "
                          f"{rss_before_busy:.0f} MiB")


def run(args: argparse.Namespace, work_dir: Path) -> tuple[list[str], bool]:
    log(f"generating {args.events:,} events (seed {args.seed}, today {args.today})")
    objects = generate(args.events, args.seed, args.today)
    small = objects[:args.small]
    calbridge = CalbridgeServer("calbridge", work_dir / "calbridge")
    radicale = RadicaleServer("radicale", work_dir / "radicale")
    try:
        calbridge.start()
        workspace, token, import_seconds = load_calbridge(
            calbridge, {BIG_CALENDAR: objects, SMALL_CALENDAR: small}, work_dir)
        load_radicale(radicale, BIG_CALENDAR, objects)
        radicale.start()
        feeds = FeedRun(args, calbridge, radicale, workspace, token)
        radicale_first, feed_text, ok = feeds.first_requests()
        raw_mib = len(feed_text.encode()) / 2**20
        n = event_count(feed_text)
        feeds.time_full_gets(n)
        feeds.time_not_modified(len(small))
        feeds.time_references(n, radicale_first)
        rss = {s.name: s.rss_mib() for s in (calbridge, radicale)}
    finally:
        for server in (calbridge, radicale):
            server.stop()
    lines = report(args, feeds.timings, feeds.notes, import_seconds, raw_mib, rss)
    return lines, ok


def report(args: argparse.Namespace, timings: dict[str, Timing], notes: list[str],
           import_seconds: float, raw_mib: float, rss: dict[str, float | None]) -> list[str]:
    out = [
        "# Feed benchmark: calbridge `/ics/<token>.ics` vs Radicale 3.9 GET (multifilesystem)",
        "",
        f"`python bench/feed_bench.py --events {args.events} --small {args.small} "
        f"--seed {args.seed} --reps {args.reps} --reps-304 {args.reps_304}` on "
        f"{dt.date.today()}, data around {args.today}; {os.cpu_count()} CPUs, Python "
        f"{sys.version.split()[0]}.",
        "",
        f"- calendar: {args.events:,} objects ({raw_mib:.1f} MiB as one VCALENDAR); the small "
        f"one is its first {args.small:,} objects",
        f"- calbridge load: `calbridge import` of {args.events:,} objects in "
        f"{import_seconds:.0f} s; Radicale: files written into its multifilesystem folder",
        "",
        "| operation | VEVENTs | median ms | p95 ms | MiB sent | statuses | n |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for timing in timings.values():
        out.append(f"| {timing.label} | {'' if timing.events is None else f'{timing.events:,}'}"
                   f" | {ms(timing.median)} | {ms(timing.p95)} | {mib(timing.wire_bytes)} | "
                   f"{', '.join(map(str, sorted(timing.statuses)))} | {len(timing.samples)} |")
    out += ["", "| comparison | ratio | goal |", "|---|---:|---|"]

    def compare(label: str, ours: str, theirs: str, goal: float | None, better: str) -> None:
        value = timings[ours].median / timings[theirs].median
        if goal is None:
            verdict = ""
        else:
            met = value <= goal
            verdict = f"{better} {'met' if met else '**missed**'}"
        out.append(f"| {label} | {ratio(value)} | {verdict} |")

    for coding in ("gzip", "identity"):
        compare(f"feed cold / Radicale GET ({coding})", f"feed_cold_{coding}",
                f"radicale_{coding}", 1 / 4, "<= 1/4")
        compare(f"feed cached / Radicale GET ({coding})", f"feed_cached_{coding}",
                f"radicale_{coding}", None, "")
    for kind, label in (("etag", "If-None-Match"), ("date", "If-Modified-Since")):
        compare(f"304 ({label}) at {args.events:,} / at {args.small:,}",
                f"304_{kind}_{args.events}", f"304_{kind}_{args.small}", 1.25,
                "same cost (<= 1.25x)")
    out += ["", *[f"- {note}" for note in notes],
            f"- server RSS after the run: calbridge {rss.get('calbridge') or 0:.0f} MiB, "
            f"Radicale {rss.get('radicale') or 0:.0f} MiB",
            "- cold: a CalDAV PUT to the calendar (untimed) before each request, so the body "
            "is built from the database; cached: the same revision again, served from the "
            "in-process body cache; 304 rows alternate the two sizes request by request."]
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--reps-304", type=int, default=200)
    parser.add_argument("--busy-reps", type=int, default=3)
    parser.add_argument("--budget", type=float, default=45.0,
                        help="seconds of timed requests per operation before stopping early")
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date.today())
    parser.add_argument("--out", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.small >= args.events:
        raise SystemExit("--small must be smaller than --events")
    work_dir = Path(tempfile.mkdtemp(prefix="calbridge-feed-bench-"))
    started = time.perf_counter()
    try:
        lines, ok = run(args, work_dir)
    finally:
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    lines.append(f"- whole run: {time.perf_counter() - started:.0f} s")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
