"""CalDAV benchmark: calbridge against plain Radicale 3.9 on the same generated calendar.

For each size it generates a seeded calendar (bench/generate.py), starts `calbridge serve` and
`python -m radicale` (multifilesystem) on free loopback ports with fresh data directories, loads
the same data into both with a whole-collection PUT, warms both up, checks calbridge's
time-range and expand answers against recurring-ical-events, then times the usual CalDAV
requests over keep-alive sessions and prints Markdown tables. Not a test: nothing here asserts a
time. The exit status is 1 when calbridge answered something wrong.

    python bench/caldav_bench.py --sizes 1000,10000 [--seed 1] [--reps 7] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import icalendar
import recurring_ical_events
import requests
from generate import (
    ARCHIVE_SIZE,
    GeneratedObject,
    Window,
    archive_objects,
    archive_window,
    bench_windows,
    collection_text,
    empty_window,
    era_windows,
    generate,
)
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
USER = "bench"
PASSWORD = "bench-password-123"
CALENDAR = "cal"
DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
CS = "{http://calendarserver.org/ns/}"
TIMEOUT = 3600  # seconds: Radicale's expand over 10,000 events takes minutes
MULTIGET_SIZE = 50
FAST = 0.1  # seconds: a request faster than this on warm-up is repeated FAST_REPS_FACTOR times
FAST_REPS_FACTOR = 5  # as many reps: a median of 7 requests of a few ms is mostly noise
# The generator is sequential: the first 1,000 objects are the same at every size. The objects
# that PUT update, sync and multiget touch come from them, so sizes compare like with like.
SHARED_PREFIX = 1000
CALBRIDGE, RADICALE, BASELINE = "calbridge", "radicale", "baseline"  # the servers' names


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- servers ------------------------------------------------------------------------------------


@dataclass
class ServerProcess(ABC):
    """One server process on a free loopback port, with its log in its data directory."""

    name: str
    data_dir: Path
    cwd: Path = ROOT
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    @abstractmethod
    def command(self) -> tuple[list[str], dict[str, str]]:
        """The command line and environment that start this server."""

    @abstractmethod
    def ready(self) -> bool:
        """Whether the started server answers."""

    def prepare(self) -> None:  # noqa: B027 - optional hook; most servers need nothing
        """Anything to do before the process starts (config file, user)."""

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        command, env = self.command()
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(command, cwd=self.cwd, env=env, stdout=log_file,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_path.read_text()}")
            try:
                if self.ready():
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # with --workers, gunicorn's master accepts before a worker answers
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start:\n{self.log_path.read_text()}")

    def rss_mib(self, field: str = "VmRSS") -> float | None:
        """The server's resident memory now (VmRSS) or at its peak (VmHWM), in MiB."""
        if self.process is None:
            return None
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        return None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@dataclass
class CalbridgeServer(ServerProcess):
    store_env: dict[str, str] = field(default_factory=dict)  # e.g. a PostgreSQL database URL

    def env(self) -> dict[str, str]:
        return {**os.environ, "CALBRIDGE_STORAGE_DATA_DIR": str(self.data_dir),
                "CALBRIDGE_SERVER_PORT": str(self.port), "CALBRIDGE_CONFIG": "",
                **self.store_env}

    def prepare(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "bridge.cli", "user", "add", USER, "--email",
             f"{USER}@example.com", "--password-stdin"],
            cwd=self.cwd, env=self.env(), input=PASSWORD + "\n", capture_output=True, text=True,
            check=False)
        if result.returncode != 0:
            raise RuntimeError(f"calbridge user add failed: {result.stderr}")

    def command(self) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, "-m", "bridge.cli", "serve"], self.env()

    def import_file(self, calendar_path: str, path: Path) -> None:
        """``calbridge import`` into a calendar of the running server (its worker processes
        parse and index; Radicale's whole-collection PUT path takes 25 ms an event)."""
        result = subprocess.run([sys.executable, "-m", "bridge.cli", "import", calendar_path,
                                 str(path)], cwd=self.cwd, env=self.env(), capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"calbridge import failed: {result.stderr}")

    def ready(self) -> bool:
        return requests.get(f"{self.url}/api/health", timeout=2).status_code == 200


class RadicaleServer(ServerProcess):
    @property
    def config_path(self) -> Path:
        return self.data_dir / "radicale.conf"

    def prepare(self) -> None:
        self.config_path.write_text(
            "[server]\n"
            f"hosts = 127.0.0.1:{self.port}\n"
            "[auth]\n"
            "type = none\n"
            "[rights]\n"
            "type = owner_only\n"
            "[storage]\n"
            "type = multifilesystem\n"
            f"filesystem_folder = {self.data_dir / 'collections'}\n"
            "[web]\n"
            "type = none\n"
            "[logging]\n"
            "level = warning\n"
        )

    def command(self) -> tuple[list[str], dict[str, str]]:
        return ([sys.executable, "-m", "radicale", "--config", str(self.config_path)],
                dict(os.environ))

    def ready(self) -> bool:
        return requests.request("OPTIONS", f"{self.url}/", timeout=2).status_code < 500


# -- requests -----------------------------------------------------------------------------------


@dataclass
class DavResponse:
    href: str  # the last path segment, unquoted ("" for the collection itself)
    status: int
    etag: str | None
    calendar_data: str | None


@dataclass
class Multistatus:
    responses: list[DavResponse]
    sync_token: str | None

    @property
    def hrefs(self) -> set[str]:
        return {r.href for r in self.responses if r.href and r.status == 200}


def parse_multistatus(body: bytes) -> Multistatus:
    root = etree.fromstring(body)
    out: list[DavResponse] = []
    for response in root.iterfind(f"{DAV}response"):
        href = unquote(response.findtext(f"{DAV}href") or "")
        name = href.rstrip("/").rsplit("/", 1)[-1] if not href.endswith("/") else ""
        status_text = response.findtext(f"{DAV}status") or ""
        etag = data = None
        for propstat in response.iterfind(f"{DAV}propstat"):
            if " 200 " not in (propstat.findtext(f"{DAV}status") or ""):
                continue
            status_text = status_text or "HTTP/1.1 200 OK"
            etag = propstat.findtext(f"{DAV}prop/{DAV}getetag") or etag
            data = propstat.findtext(f"{DAV}prop/{CALDAV}calendar-data") or data
        status = int(status_text.split()[1]) if status_text else 0
        out.append(DavResponse(name, status, etag, data))
    return Multistatus(out, root.findtext(f"{DAV}sync-token"))


class Target:
    """A server under test, seen through one keep-alive session."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.name = server.name
        self.session = requests.Session()
        self.session.auth = (USER, PASSWORD)
        self.calendar_path = f"/{USER}/{CALENDAR}/"
        self.sync_token: str | None = None

    @property
    def calendar_url(self) -> str:
        return self.server.url + self.calendar_path

    def request(self, method: str, url: str, body: str | bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[float, requests.Response]:
        """One request, timed until its whole body has been read."""
        data = body.encode() if isinstance(body, str) else body
        # The client's own garbage collector must not run inside a timed request: at 10,000
        # events this process holds a large heap, and a full collection costs milliseconds.
        gc.disable()
        try:
            started = time.perf_counter()
            response = self.session.request(method, url, data=data, headers=headers,
                                            timeout=TIMEOUT)
            _ = response.content
            return time.perf_counter() - started, response
        finally:
            gc.enable()


def expect(response: requests.Response, *statuses: int) -> requests.Response:
    if response.status_code not in statuses:
        raise RuntimeError(f"{response.request.method} {response.url}: "
                           f"{response.status_code} {response.text[:500]}")
    return response


XML = {"Content-Type": "application/xml; charset=utf-8"}


def calendar_query(window: Window, expand: bool) -> str:
    start, end = window.caldav
    data = f'<C:calendar-data><C:expand start="{start}" end="{end}"/></C:calendar-data>' \
        if expand else "<C:calendar-data/>"
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f"<D:prop><D:getetag/>{data}</D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{start}" end="{end}"/>'
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    )


def multiget(paths: Iterable[str]) -> str:
    hrefs = "".join(f"<D:href>{p}</D:href>" for p in paths)
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            f"<D:prop><D:getetag/><C:calendar-data/></D:prop>{hrefs}</C:calendar-multiget>")


def sync_collection(token: str) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:">'
            f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
            "<D:prop><D:getetag/></D:prop></D:sync-collection>")


PROPFIND_ETAGS = ('<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:">'
                  "<D:prop><D:getetag/></D:prop></D:propfind>")
PROPFIND_CTAG = ('<?xml version="1.0" encoding="utf-8"?>'
                 '<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">'
                 "<D:prop><CS:getctag/></D:prop></D:propfind>")
PROPFIND_PRINCIPAL = ('<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:">'
                      "<D:prop><D:resourcetype/><D:current-user-principal/></D:prop>"
                      "</D:propfind>")
MKCALENDAR = ('<?xml version="1.0" encoding="utf-8"?>'
              '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
              "<D:set><D:prop><D:displayname>bench</D:displayname>"
              '<C:supported-calendar-component-set><C:comp name="VEVENT"/>'
              "</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>")


# -- operations ---------------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    count: int  # resources (or events) in the answer
    response: requests.Response


@dataclass(frozen=True)
class Operation:
    key: str
    label: str
    run: Callable[[Target, int], Sample]  # (target, repetition number) -> one timed request
    goal: float | None = None  # the largest acceptable calbridge/Radicale ratio
    bounded: bool = False  # result-bounded: compared across sizes


def new_event_text(uid: str, start: dt.datetime, summary: str) -> str:
    stamp = start.strftime("%Y%m%dT%H%M%SZ")
    end = (start + dt.timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge//bench//EN\r\n"
            f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:{stamp}\r\nDTSTART:{stamp}\r\n"
            f"DTEND:{end}\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def with_summary(text: str, summary: str) -> str:
    """The object with its first SUMMARY replaced (an edit that keeps its times)."""
    lines = text.split("\r\n")
    for i, line in enumerate(lines):
        if line.startswith("SUMMARY:"):
            lines[i] = f"SUMMARY:{summary}"
            break
    return "\r\n".join(lines)


class Workload:
    """The operations of one size, over the generated objects."""

    def __init__(self, objects: Sequence[GeneratedObject], windows: Sequence[tuple[str, Window]],
                 today: dt.date, seed: int) -> None:
        self.objects = objects
        self.windows = windows
        self.today = today
        shared = objects[:SHARED_PREFIX]
        singles = [o for o in shared if o.kind == "single"]
        self.update_target = singles[len(singles) // 2]
        self.sync_target = singles[len(singles) // 3]
        rng = random.Random(seed)
        self.multiget_hrefs = rng.sample([o.href for o in shared],
                                         min(MULTIGET_SIZE, len(shared)))
        self.created = 0

    def operations(self) -> list[Operation]:
        reports = []
        for key, window in self.windows:
            near = key != "archive"  # the archive week measures growth, not Radicale
            reports += [
                Operation(f"report_{key}", f"REPORT time-range {window.label}",
                          self.reporter(window, False), goal=1 / 20 if near else None,
                          bounded=True),
                Operation(f"expand_{key}", f"REPORT expand {window.label}",
                          self.reporter(window, True), goal=1 / 100 if near else None,
                          bounded=True)]
        empty = empty_window(self.today)
        return [
            Operation("options", "OPTIONS (per-request floor)", self.options, goal=1.0,
                      bounded=True),
            Operation("floor", "PROPFIND depth 0 principal (auth and rights)",
                      self.propfind_principal),
            Operation("put_create", "PUT create", self.put_create, goal=1 / 20, bounded=True),
            Operation("put_update", "PUT update", self.put_update),
            Operation("propfind_etags", "PROPFIND depth 1 getetag", self.propfind_etags,
                      goal=1 / 5),
            Operation("getctag", "PROPFIND depth 0 getctag", self.getctag, bounded=True),
            *reports,
            Operation("report_empty", f"REPORT time-range {empty.label}",
                      self.reporter(empty, False), bounded=True),
            Operation("get_one", "GET one event", self.get_one, bounded=True),
            Operation("multiget", f"REPORT calendar-multiget {MULTIGET_SIZE}", self.multiget,
                      bounded=True),
            Operation("sync_initial", "REPORT sync-collection initial", self.sync_initial),
            Operation("sync_change", "REPORT sync-collection after 1 change", self.sync_change,
                      goal=1 / 50, bounded=True),
            Operation("get_collection", "GET whole collection", self.get_collection,
                      goal=1 / 4),
        ]

    # each returns one timed request; any setup before it is not timed

    def reporter(self, window: Window, expand: bool) -> Callable[[Target, int], Sample]:
        return lambda target, _rep: self.report(target, window, expand)

    def options(self, target: Target, _rep: int) -> Sample:
        seconds, response = target.request("OPTIONS", target.calendar_url)
        expect(response, 200)
        return Sample(seconds, 1, response)

    def get_one(self, target: Target, _rep: int) -> Sample:
        seconds, response = target.request("GET",
                                           f"{target.calendar_url}{self.sync_target.href}")
        expect(response, 200)
        return Sample(seconds, 1, response)

    def propfind_principal(self, target: Target, _rep: int) -> Sample:
        seconds, response = target.request("PROPFIND", f"{target.server.url}/{USER}/",
                                           PROPFIND_PRINCIPAL, {**XML, "Depth": "0"})
        expect(response, 207)
        return Sample(seconds, 1, response)

    def put_create(self, target: Target, _rep: int) -> Sample:
        self.created += 1
        uid = f"bench-new-{uuid.uuid4().hex}"
        start = dt.datetime.combine(self.today + dt.timedelta(days=200 + self.created % 50),
                                    dt.time(9), dt.UTC)
        seconds, response = target.request(
            "PUT", f"{target.calendar_url}{uid}.ics", new_event_text(uid, start, "Created"),
            {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"})
        expect(response, 201)
        return Sample(seconds, 1, response)

    def put_update(self, target: Target, rep: int) -> Sample:
        obj = self.update_target
        body = with_summary(obj.text, f"Updated {rep} {uuid.uuid4().hex[:8]}")
        seconds, response = target.request("PUT", f"{target.calendar_url}{obj.href}", body,
                                           {"Content-Type": "text/calendar; charset=utf-8"})
        expect(response, 201, 204)
        return Sample(seconds, 1, response)

    def propfind_etags(self, target: Target, _rep: int) -> Sample:
        seconds, response = target.request("PROPFIND", target.calendar_url, PROPFIND_ETAGS,
                                           {**XML, "Depth": "1"})
        expect(response, 207)
        return Sample(seconds, len(parse_multistatus(response.content).hrefs), response)

    def getctag(self, target: Target, _rep: int) -> Sample:
        seconds, response = target.request("PROPFIND", target.calendar_url, PROPFIND_CTAG,
                                           {**XML, "Depth": "0"})
        expect(response, 207)
        if b"getctag>" not in response.content:
            raise RuntimeError(f"{target.name}: no getctag in {response.text[:300]}")
        return Sample(seconds, 1, response)

    def report(self, target: Target, window: Window, expand: bool) -> Sample:
        seconds, response = target.request("REPORT", target.calendar_url,
                                           calendar_query(window, expand), {**XML, "Depth": "1"})
        expect(response, 207)
        return Sample(seconds, len(parse_multistatus(response.content).hrefs), response)

    def multiget(self, target: Target, _rep: int) -> Sample:
        body = multiget(target.calendar_path + h for h in self.multiget_hrefs)
        seconds, response = target.request("REPORT", target.calendar_url, body,
                                           {**XML, "Depth": "1"})
        expect(response, 207)
        found = parse_multistatus(response.content)
        if found.hrefs != set(self.multiget_hrefs) or \
                any(not r.calendar_data for r in found.responses):
            raise RuntimeError(f"{target.name}: multiget answered {len(found.hrefs)} hrefs")
        return Sample(seconds, len(found.hrefs), response)

    def sync_initial(self, target: Target, _rep: int) -> Sample:
        seconds, response = target.request("REPORT", target.calendar_url, sync_collection(""),
                                           XML)
        expect(response, 207)
        answer = parse_multistatus(response.content)
        target.sync_token = answer.sync_token
        return Sample(seconds, len(answer.hrefs), response)

    def sync_change(self, target: Target, rep: int) -> Sample:
        if target.sync_token is None:
            self.sync_initial(target, rep)
        obj = self.sync_target
        _, put = target.request("PUT", f"{target.calendar_url}{obj.href}",
                                with_summary(obj.text, f"Synced {uuid.uuid4().hex[:8]}"),
                                {"Content-Type": "text/calendar; charset=utf-8"})
        expect(put, 201, 204)
        seconds, response = target.request("REPORT", target.calendar_url,
                                           sync_collection(target.sync_token or ""), XML)
        expect(response, 207)
        answer = parse_multistatus(response.content)
        target.sync_token = answer.sync_token
        if answer.hrefs != {obj.href}:
            raise RuntimeError(f"{target.name}: sync after one change answered "
                               f"{sorted(answer.hrefs)[:5]} ({len(answer.hrefs)} hrefs)")
        return Sample(seconds, len(answer.hrefs), response)

    def get_collection(self, target: Target, _rep: int) -> Sample:
        seconds, response = target.request("GET", target.calendar_url)
        expect(response, 200)
        return Sample(seconds, response.text.count("BEGIN:VEVENT\r\n"), response)


# -- correctness --------------------------------------------------------------------------------


def instance_key(value: dt.date | dt.datetime) -> str:
    """An instance's RECURRENCE-ID or DTSTART: a DATE, or a time in UTC (floating as UTC)."""
    if not isinstance(value, dt.datetime):
        return value.strftime("%Y%m%d")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def component_key(component: icalendar.cal.Component) -> tuple[str, str]:
    name = "RECURRENCE-ID" if "RECURRENCE-ID" in component else "DTSTART"
    return str(component["UID"]), instance_key(component.decoded(name))


@dataclass
class Expected:
    """What recurring-ical-events says about one window, from the generated texts."""

    hrefs: set[str] = field(default_factory=set)
    instances: set[tuple[str, str]] = field(default_factory=set)


def expectations(objects: Sequence[GeneratedObject], windows: Sequence[Window]
                 ) -> dict[str, Expected]:
    out = {w.label: Expected() for w in windows}
    for obj in objects:
        cal = icalendar.Calendar.from_ical(obj.text)
        for window in windows:
            found = list(recurring_ical_events.of(cal).between(window.start, window.end))
            if found:
                out[window.label].hrefs.add(obj.href)
                out[window.label].instances.update(component_key(c) for c in found)
    return out


def expanded_instances(answer: Multistatus) -> tuple[set[tuple[str, str]], list[str]]:
    """The (UID, instance) pairs of an expand answer, and RFC 4791 9.6.5 form problems."""
    instances: set[tuple[str, str]] = set()
    problems: list[str] = []
    for response in answer.responses:
        if not response.calendar_data:
            continue
        cal = icalendar.Calendar.from_ical(response.calendar_data)
        if any(True for _ in cal.walk("VTIMEZONE")):
            problems.append(f"{response.href}: VTIMEZONE in expanded data")
        for event in cal.walk("VEVENT"):
            key = component_key(event)
            if key in instances:
                problems.append(f"{response.href}: instance {key[1]} twice")
            instances.add(key)
            for name in ("RRULE", "RDATE", "EXDATE", "EXRULE"):
                if name in event:
                    problems.append(f"{response.href}: {name} in an expanded instance")
            for name in ("DTSTART", "DTEND", "RECURRENCE-ID"):
                value = event.get(name)
                if value is not None and isinstance(value.dt, dt.datetime) and \
                        value.dt.utcoffset() != dt.timedelta(0):
                    problems.append(f"{response.href}: {name} not in UTC")
    return instances, problems


@dataclass
class CheckReport:
    lines: list[str] = field(default_factory=list)
    failures: int = 0

    def ok(self, text: str) -> None:
        self.lines.append(f"- OK: {text}")

    def fail(self, text: str, details: Iterable[str] = ()) -> None:
        self.failures += 1
        self.lines.append(f"- **FAIL**: {text}")
        self.lines += [f"    - {d}" for d in details]

    def note(self, text: str, details: Iterable[str] = ()) -> None:
        self.lines.append(f"- note: {text}")
        self.lines += [f"    - {d}" for d in details]


def describe(hrefs: Iterable[str], by_href: dict[str, GeneratedObject], window: Window,
             limit: int = 8) -> list[str]:
    out = []
    for href in sorted(hrefs)[:limit]:
        obj = by_href.get(href)
        if obj is None:
            out.append(f"{href}: not a generated object")
            continue
        cal = icalendar.Calendar.from_ical(obj.text)
        event = next(iter(cal.walk("VEVENT")))
        rule = event.get("RRULE")
        summary = str(event.get("SUMMARY", ""))
        around = recurring_ical_events.of(cal).between(window.start - dt.timedelta(days=2),
                                                       window.end + dt.timedelta(days=2))
        starts = ", ".join(instance_key(c["DTSTART"].dt) for c in list(around)[:4])
        out.append(f"{href} ({obj.kind}{', RRULE ' + rule.to_ical().decode() if rule else ''}"
                   f"; {summary!r}; instances near the window: {starts or 'none'})")
    if len(list(hrefs)) > limit:
        out.append(f"... and {len(list(hrefs)) - limit} more")
    return out


def check_window_answers(
    report: CheckReport, window: Window, expected: Expected, by_href: dict[str, GeneratedObject],
    plain: dict[str, Multistatus], expanded: dict[str, Multistatus],
) -> None:
    label = window.label
    cb = plain[CALBRIDGE].hrefs
    rad = plain[RADICALE].hrefs if RADICALE in plain else None
    if cb == expected.hrefs:
        report.ok(f"time-range {label}: calbridge returns the {len(cb)} objects "
                  "recurring-ical-events finds")
    else:
        report.fail(f"time-range {label}: calbridge differs from recurring-ical-events",
                    [f"missing: {d}" for d in describe(expected.hrefs - cb, by_href, window)] +
                    [f"extra: {d}" for d in describe(cb - expected.hrefs, by_href, window)])
    if rad is None:
        pass  # calbridge alone at this size
    elif rad == expected.hrefs:
        report.ok(f"time-range {label}: Radicale returns the same {len(rad)} objects")
    else:
        report.note(f"time-range {label}: Radicale differs ({len(rad)} objects)",
                    [f"only Radicale: {d}" for d in describe(rad - expected.hrefs, by_href,
                                                              window)] +
                    [f"not Radicale: {d}" for d in describe(expected.hrefs - rad, by_href,
                                                             window)])
    for name in (n for n in (CALBRIDGE, RADICALE) if n in expanded):
        answer = expanded[name]
        instances, problems = expanded_instances(answer)
        missing = expected.instances - instances
        extra = instances - expected.instances
        hrefs_ok = answer.hrefs == expected.hrefs
        summary = (f"expand {label}: {name} returns {len(instances)} instances in "
                   f"{len(answer.hrefs)} objects (recurring-ical-events: "
                   f"{len(expected.instances)} in {len(expected.hrefs)})")
        details = ([f"missing instance {uid} {key}" for uid, key in sorted(missing)[:10]] +
                   [f"extra instance {uid} {key}" for uid, key in sorted(extra)[:10]] +
                   [f"extra object: {d}" for d in describe(answer.hrefs - expected.hrefs,
                                                           by_href, window)] +
                   [f"missing object: {d}" for d in describe(expected.hrefs - answer.hrefs,
                                                             by_href, window)])
        if problems:
            objects = len({p.split(":", 1)[0] for p in problems})
            details += [f"{len(problems)} RFC 4791 9.6.5 form problems in {objects} objects, "
                        f"e.g.: {'; '.join(problems[:4])}"]
        if not missing and not extra and hrefs_ok and not problems:
            report.ok(summary)
        elif name == "calbridge":
            report.fail(summary, details)
        else:
            report.note(summary, details)
    non_recurring_rid = 0
    for response in expanded["calbridge"].responses:
        obj = by_href.get(response.href)
        if obj and obj.kind in ("single", "allday") and response.calendar_data and \
                "RECURRENCE-ID" in response.calendar_data:
            non_recurring_rid += 1
    if non_recurring_rid:
        report.note(f"expand {label}: calbridge adds RECURRENCE-ID to {non_recurring_rid} "
                    "non-recurring events (RFC 4791 9.6.5 only asks it of recurrence instances)")


# -- measuring ----------------------------------------------------------------------------------


class Sampled:
    """The two figures every bench table reports, over ``samples`` (seconds)."""

    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return percentile_95(self.samples)


@dataclass
class Timing(Sampled):
    first: float  # the warm-up request
    samples: list[float]
    count: int


def percentile_95(samples: Sequence[float]) -> float:
    """The nearest-rank 95th percentile, the one every bench table reports."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def measure(operation: Operation, target: Target, reps: int, budget: float) -> list[float]:
    """Up to ``reps`` timed requests; stop early once ``budget`` seconds have been spent."""
    samples: list[float] = []
    for rep in range(reps):
        samples.append(operation.run(target, rep + 1).seconds)
        if sum(samples) > budget:
            break
    return samples


@dataclass
class SizeResult:
    size: int
    kinds: dict[str, int]
    load_seconds: dict[str, float]
    timings: dict[str, dict[str, Timing]]  # operation key -> server name -> timing
    labels: dict[str, str]
    operations: list[Operation]
    checks: CheckReport
    rss_mib: dict[str, tuple[float | None, float | None]]  # name -> (after the run, peak)
    body_mib: float
    code: str


def load(target: Target, body: str, by_import: bool = False) -> float:
    """MKCALENDAR and the whole calendar in one PUT, or (``by_import``, calbridge only) the
    ``calbridge import`` command; the seconds the load took."""
    expect(target.request("PROPFIND", f"{target.server.url}/{USER}/", PROPFIND_PRINCIPAL,
                          {**XML, "Depth": "0"})[1], 207)
    expect(target.request("MKCALENDAR", target.calendar_url, MKCALENDAR, XML)[1], 201)
    if by_import and isinstance(target.server, CalbridgeServer):
        path = target.server.data_dir / "load.ics"
        path.write_text(body)
        started = time.perf_counter()
        target.server.import_file(target.calendar_path, path)
        return time.perf_counter() - started
    seconds, response = target.request("PUT", target.calendar_url, body,
                                       {"Content-Type": "text/calendar; charset=utf-8"})
    expect(response, 201, 204)
    return seconds


def start_servers(size: int, args: argparse.Namespace, work_dir: Path) -> list[ServerProcess]:
    """calbridge (the working tree or --snapshot), Radicale, and the --baseline calbridge."""
    servers: list[ServerProcess] = [
        CalbridgeServer(CALBRIDGE, work_dir / f"calbridge-{size}", cwd=args.calbridge_root,
                        store_env=args.store_env())]
    if size <= args.radicale_max_size:
        servers.append(RadicaleServer(RADICALE, work_dir / f"radicale-{size}"))
    if args.baseline:
        servers.append(CalbridgeServer(BASELINE, work_dir / f"baseline-{size}",
                                       cwd=args.baseline_root, store_env=args.store_env()))
    for server in servers:
        server.start()
    return servers


def load_all(targets: Sequence[Target], body: str, objects: Sequence[GeneratedObject],
             size: int, by_import: bool = False) -> dict[str, float]:
    """Load the calendar into every server; each must then list exactly the generated objects."""
    load_seconds = {}
    for target in targets:
        log(f"size {size}: loading {target.name} ({len(body) / 2**20:.1f} MiB)")
        load_seconds[target.name] = load(target, body, by_import)
        listing = parse_multistatus(expect(target.request(
            "PROPFIND", target.calendar_url, PROPFIND_ETAGS, {**XML, "Depth": "1"})[1],
            207).content)
        if listing.hrefs != {o.href for o in objects}:
            raise RuntimeError(f"{target.name} holds {len(listing.hrefs)} objects "
                               f"after the load, expected {len(objects)}")
    return load_seconds


def check_answers(first: dict[tuple[str, str], Sample], targets: Sequence[Target],
                  objects: Sequence[GeneratedObject], windows: Sequence[tuple[str, Window]]
                  ) -> CheckReport:
    """The warm-up answers of the window queries against recurring-ical-events (and the
    baseline's against the working tree's)."""
    log("computing the expected answers with recurring-ical-events")
    checks = CheckReport()
    expected = expectations(objects, [w for _, w in windows])
    by_href = {o.href: o for o in objects}
    for key, window in windows:
        plain_key, expand_key = f"report_{key}", f"expand_{key}"
        plain = {t.name: parse_multistatus(first[(plain_key, t.name)].response.content)
                 for t in targets}
        expanded = {t.name: parse_multistatus(first[(expand_key, t.name)].response.content)
                    for t in targets}
        check_window_answers(checks, window, expected[window.label], by_href, plain, expanded)
        if BASELINE in plain:
            check_same_as_baseline(checks, window.label, plain, expanded)
    checks.ok("multiget, sync after one change: every answer as expected "
              "(checked on every request)")
    return checks


def check_same_as_baseline(checks: CheckReport, label: str, plain: dict[str, Multistatus],
                           expanded: dict[str, Multistatus]) -> None:
    after = (plain[CALBRIDGE].hrefs, expanded_instances(expanded[CALBRIDGE])[0])
    before = (plain[BASELINE].hrefs, expanded_instances(expanded[BASELINE])[0])
    if after == before:
        checks.ok(f"{label}: the baseline answers the same objects and instances")
    else:
        checks.fail(f"{label}: the baseline answers differently",
                    [f"objects only after: {len(after[0] - before[0])}, only before: "
                     f"{len(before[0] - after[0])}; instances only after: "
                     f"{len(after[1] - before[1])}, only before: {len(before[1] - after[1])}"])


def time_all(operations: Sequence[Operation], targets: Sequence[Target],
             first: dict[tuple[str, str], Sample], args: argparse.Namespace, size: int
             ) -> dict[str, dict[str, Timing]]:
    """Radicale alone, never right after a slow request to it; the two calbridge servers
    (after and before) back to back per operation, in alternating order, so that a change in
    the shared machine's load falls on both alike."""
    timings: dict[str, dict[str, Timing]] = {op.key: {} for op in operations}
    calbridges = [t for t in targets if t.name != RADICALE]
    for number, operation in enumerate(operations):
        for target in calbridges[::-1] if number % 2 else calbridges:
            timings[operation.key][target.name] = time_one(operation, target, first, args, size)
    for target in (t for t in targets if t.name == RADICALE):
        for operation in operations:
            timings[operation.key][target.name] = time_one(operation, target, first, args, size)
    return timings


def time_one(operation: Operation, target: Target, first: dict[tuple[str, str], Sample],
             args: argparse.Namespace, size: int) -> Timing:
    log(f"size {size}: timing {operation.label} on {target.name}")
    warm = first[(operation.key, target.name)]
    reps = args.reps * FAST_REPS_FACTOR if warm.seconds < FAST else args.reps
    return Timing(warm.seconds, measure(operation, target, reps, args.budget), warm.count)


def bench_window_list(today: dt.date) -> list[tuple[str, Window]]:
    """The windows queried with and without expand, by operation key."""
    past, now, future = era_windows(today)
    return [("week", bench_windows(today)[0]), ("past", past), ("now", now),
            ("future", future), ("archive", archive_window(today))]


def run_size(size: int, args: argparse.Namespace, work_dir: Path) -> SizeResult:
    code = args.code or f"working tree at {code_version()}"
    log(f"size {size}: generating")
    # The archive week is the same 50 objects at every size: its queries have answers of one
    # size, so their times at two sizes show what the calendar's size alone costs.
    objects = generate(size, args.seed, args.today) + archive_objects(args.today, args.seed)
    windows = bench_window_list(args.today)
    body = collection_text(objects)
    kinds: dict[str, int] = {}
    for obj in objects:
        kinds[obj.kind] = kinds.get(obj.kind, 0) + 1
    servers: list[ServerProcess] = []
    try:
        servers = start_servers(size, args, work_dir)
        targets = [Target(s) for s in servers]
        # Without Radicale beside it, calbridge loads as a user moving in would: by import.
        load_seconds = load_all(targets, body, objects, size,
                                by_import=size > args.radicale_max_size)
        operations = Workload(objects, windows, args.today, args.seed).operations()
        first: dict[tuple[str, str], Sample] = {}
        for operation in operations:
            for target in targets:
                log(f"size {size}: warm-up {operation.label} on {target.name}")
                first[(operation.key, target.name)] = operation.run(target, 0)
        checks = check_answers(first, targets, objects, windows)
        timings = time_all(operations, targets, first, args, size)
        rss = {s.name: (s.rss_mib(), s.rss_mib("VmHWM")) for s in servers}
    finally:
        for server in servers:
            server.stop()
    return SizeResult(size, kinds, load_seconds, timings,
                      {op.key: op.label for op in operations}, operations, checks, rss,
                      len(body.encode()) / 2**20, code)


# -- output -------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def ratio_text(value: float) -> str:
    if value >= 0.5:
        return f"{value:.2f}x"
    return f"1/{1 / value:.1f}" if value > 0.1 else f"1/{1 / value:,.0f}"


def size_section(result: SizeResult, args: argparse.Namespace) -> list[str]:
    recurring = sum(v for k, v in result.kinds.items() if k not in ("single", "allday"))
    with_radicale = RADICALE in result.load_seconds
    windows = [*(w for _, w in bench_window_list(args.today)), empty_window(args.today)]
    lines = [
        f"## {result.size:,} events (seed {args.seed})",
        "",
        f"- calbridge code: {result.code}",
        f"- objects: {result.size:,} generated + {ARCHIVE_SIZE} in the archive week "
        f"({recurring} recurring series; "
        + ", ".join(f"{k} {v}" for k, v in sorted(result.kinds.items())) + ")",
        "- windows: " + ", ".join(f"{w.label} {w.caldav[0]}..{w.caldav[1]}" for w in windows),
        f"- load (MKCALENDAR + {'whole-collection PUT' if with_radicale else 'calbridge import'}"
        f" of {result.body_mib:.1f} MiB): "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.load_seconds.items()),
        "",
    ]
    if with_radicale:
        lines += ["| operation | n | calbridge median ms | p95 | Radicale median ms | p95 | "
                  "calbridge/Radicale | goal | first request ms (cb / Rad) | reps (cb / Rad) |",
                  "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    else:
        lines += ["| operation | n | calbridge median ms | p95 | first request ms | reps |",
                  "|---|---:|---:|---:|---:|---:|"]
    for operation in result.operations:
        cb = result.timings[operation.key][CALBRIDGE]
        if not with_radicale:
            lines.append(f"| {operation.label} | {cb.count} | {ms(cb.median)} | {ms(cb.p95)} | "
                         f"{ms(cb.first)} | {len(cb.samples)} |")
            continue
        rad = result.timings[operation.key][RADICALE]
        ratio = cb.median / rad.median
        goal = "" if operation.goal is None else (
            (f"<= 1/{round(1 / operation.goal)} " if operation.goal < 1 else
             f"<= {operation.goal:g}x ") + ("met" if ratio <= operation.goal else "**missed**"))
        count = str(cb.count) if cb.count == rad.count else f"{cb.count} / {rad.count}"
        lines.append(
            f"| {operation.label} | {count} | {ms(cb.median)} | {ms(cb.p95)} | "
            f"{ms(rad.median)} | {ms(rad.p95)} | {ratio_text(ratio)} | {goal} | "
            f"{ms(cb.first)} / {ms(rad.first)} | {len(cb.samples)} / {len(rad.samples)} |")
    rss = ", ".join(f"{name} {now:.0f} MiB (peak {peak:.0f} MiB)"
                    if now is not None and peak is not None else f"{name} ?"
                    for name, (now, peak) in result.rss_mib.items())
    lines += ["", "n: resources (or VEVENTs for GET) in the answer, calbridge / Radicale when "
              "they differ. First request: the warm-up right after the load.",
              "", f"Server RSS after the run: {rss}", "", "### Checks", "",
              *result.checks.lines, ""]
    return lines


def baseline_section(result: SizeResult, args: argparse.Namespace) -> list[str]:
    """The working tree (after) against the --baseline snapshot (before), same run, same data."""
    lines = [
        f"### after / before: calbridge {result.code} vs {args.baseline_code}",
        "",
        "| operation | n | before median ms | p95 | after median ms | p95 | after/before |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for operation in result.operations:
        before = result.timings[operation.key][BASELINE]
        after = result.timings[operation.key][CALBRIDGE]
        count = str(after.count) if after.count == before.count else \
            f"{after.count} / {before.count}"
        lines.append(f"| {operation.label} | {count} | {ms(before.median)} | {ms(before.p95)} | "
                     f"{ms(after.median)} | {ms(after.p95)} | "
                     f"{after.median / before.median:.2f}x |")
    lines += ["", "n: after / before when they differ. Ratios above 1 are slower after; on a "
              "shared 2-core machine single ratios move by tens of percent between runs.", ""]
    return lines


def scaling_section(small: SizeResult, large: SizeResult) -> list[str]:
    """calbridge's time for each result-bounded operation at the large size over the small.
    Where both answers have the same size the times are compared; where the answer grows with
    the calendar (the week and month windows), the times per returned resource are."""
    lines = [
        f"## calbridge alone: {large.size:,} vs {small.size:,} events (result-bounded operations)",
        "",
        f"| operation | n at {small.size:,} | median ms | n at {large.size:,} | median ms | "
        "ms per result (small / large) | compared | ratio | goal <= 1.5x |",
        "|---|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for operation in large.operations:
        if not operation.bounded:
            continue
        a, b = small.timings[operation.key]["calbridge"], large.timings[operation.key][
            "calbridge"]
        per_a, per_b = a.median / max(a.count, 1), b.median / max(b.count, 1)
        same_answer = a.count == b.count
        ratio = b.median / a.median if same_answer else per_b / per_a
        lines.append(f"| {operation.label} | {a.count} | {ms(a.median)} | {b.count} | "
                     f"{ms(b.median)} | {ms(per_a)} / {ms(per_b)} | "
                     f"{'time' if same_answer else 'time per result'} | {ratio:.2f}x | "
                     f"{'met' if ratio <= 1.5 else '**missed**'} |")
    lines += ["", "The generated calendars cover the same three years, so the week and month "
              f"windows hold about {large.size // small.size} times as many resources at "
              f"{large.size:,}; the archive week holds the same {ARCHIVE_SIZE} at both sizes.",
              ""]
    return lines


def snapshot(revision: str, destination: Path) -> str:
    """Extract the tracked files of ``revision`` into ``destination``; returns the commit."""
    commit = subprocess.run(["git", "rev-parse", "--short", revision], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=ROOT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    return commit


def code_version() -> str:
    """The commit checked out, and whether the working tree differs from it (outside bench/)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--", ".", ":!bench"],
                                cwd=ROOT, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown version"
    return f"commit {head}" + (" with uncommitted changes" if status.strip() else "")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000",
                        help="comma-separated calendar sizes (default 1000,10000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=7, help="timed requests per operation")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="stop repeating an operation on a server after this many seconds "
                             "(Radicale's expand over 10,000 events takes over a minute)")
    parser.add_argument("--quick", action="store_true", help="3 reps, 15 s budget")
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date.today(),
                        help="the day the data is generated around (default: today)")
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    parser.add_argument("--snapshot", metavar="REV",
                        help="run calbridge from a copy of this commit (e.g. HEAD) instead of the "
                             "working tree, so that edits made during a long run do not mix in")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run calbridge from a copy of this commit (e.g. the commit "
                             "before a change) on the same data, and print after/before ratios")
    parser.add_argument("--radicale-max-size", type=int, default=10_000,
                        help="run Radicale beside calbridge up to this size only (default "
                             "10000; its whole-collection PUT and expand at 100,000 take hours)")
    parser.add_argument("--keep", action="store_true", help="keep the servers' data directories")
    parser.add_argument("--postgres", action="store_true",
                        help="calbridge on a PostgreSQL cluster the bench starts (Debian's "
                             "server binaries, as in the tests) instead of SQLite")
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.budget = min(args.reps, 3), min(args.budget, 15.0)
    args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    return args


def command_line(args: argparse.Namespace) -> str:
    return (f"python bench/caldav_bench.py --sizes {args.sizes} --seed {args.seed} "
            f"--reps {args.reps} --budget {args.budget:g}"
            + (f" --radicale-max-size {args.radicale_max_size}"
               if args.radicale_max_size != 10_000 else "")
            + (f" --snapshot {args.snapshot}" if args.snapshot else "")
            + (f" --baseline {args.baseline}" if args.baseline else "")
            + (" --postgres" if args.postgres else ""))


def prepare_code(args: argparse.Namespace, work_dir: Path) -> None:
    """Where each calbridge runs from: the working tree, or snapshots of commits. The servers
    start as ``python -m bridge.cli`` in that directory, which every layout has (the old one
    with the store in radicale_plugin/, the new one with bridge/store/)."""
    args.calbridge_root, args.code = ROOT, None
    if args.snapshot:
        args.calbridge_root = work_dir / "calbridge-code"
        args.code = f"snapshot of commit {snapshot(args.snapshot, args.calbridge_root)}"
        log(f"calbridge runs from {args.calbridge_root} ({args.code})")
    args.baseline_root, args.baseline_code = None, None
    if args.baseline:
        args.baseline_root = work_dir / "baseline-code"
        args.baseline_code = f"snapshot of commit {snapshot(args.baseline, args.baseline_root)}"
        log(f"the baseline calbridge runs from {args.baseline_root} ({args.baseline_code})")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work_dir = Path(tempfile.mkdtemp(prefix="calbridge-bench-"))
    log(f"data directories under {work_dir}")
    cluster = None
    args.store_env = dict
    if args.postgres:
        sys.path.insert(0, str(ROOT))
        from tests.postgres import PostgresCluster  # a bench-only dependency on the test kit

        cluster = PostgresCluster.start()
        args.store_env = lambda: {"CALBRIDGE_STORAGE_DATABASE_URL": cluster.new_database_url()}
        log(f"calbridge stores on PostgreSQL at 127.0.0.1:{cluster.port}")
    prepare_code(args, work_dir)
    results: list[SizeResult] = []
    report = ["# CalDAV benchmark: calbridge vs Radicale 3.9 (multifilesystem)", "",
              f"`{command_line(args)}` on {dt.date.today()}, data around {args.today}; "
              f"calbridge {args.code or 'working tree at ' + code_version()}"
              + (f", baseline {args.baseline_code}" if args.baseline else "")
              + f"; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; calbridge's store: "
              f"{'PostgreSQL (a cluster started by the bench)' if args.postgres else 'SQLite'}.",
              ""]
    print("\n".join(report), flush=True)
    try:
        for size in args.size_list:
            result = run_size(size, args, work_dir)
            results.append(result)
            section = size_section(result, args) + (
                baseline_section(result, args) if args.baseline else [])
            print("\n".join(section), flush=True)
            report += section
    finally:
        if cluster is not None:
            cluster.stop()
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    return finish(results, report, args)


def finish(results: list[SizeResult], report: list[str], args: argparse.Namespace) -> int:
    for larger in results[1:]:
        section = scaling_section(results[0], larger)
        print("\n".join(section), flush=True)
        report += section
    failures = sum(r.checks.failures for r in results)
    verdict = f"calbridge answered wrongly in {failures} check(s)" if failures else \
        "calbridge answered every check correctly"
    print(verdict)
    report.append(verdict)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(report) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
