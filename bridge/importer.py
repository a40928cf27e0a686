"""Bulk import of a whole-calendar .ics (a Google or Radicale export) into one calendar.

Decisions:
- The file is streamed, never held whole: a first pass notes each top-level component's type,
  UID, the TZIDs it names and its byte range (and the calendar's own properties); the second
  reads the components of ``BATCH`` UIDs at a time by their ranges. Memory follows the batch,
  not the file (a UID's components may lie anywhere in the file; the ranges join them).
- Each object is the components of one UID as the file has them, byte for byte, with the
  VTIMEZONEs they name and the file's VERSION/PRODID/CALSCALE lines: nothing is re-serialized.
- Parsing and indexing (the CPU work, ``prepare_object``) run in a process pool over the cores
  while the previous batch is written (one short transaction per batch, in file order); a file
  of fewer than two batches is prepared in-process (starting workers costs more).
- Skipped, with the reason: a component without UID, of a type the store does not keep, a UID
  used by several component types, and objects the store refuses (too large, outside the
  limits, not parseable).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import BinaryIO

from radicale import pathutils
from tqdm import tqdm

from bridge.core.etag import etag_of
from bridge.core.index import OBJECT_COMPONENTS, InvalidObject
from bridge.core.limits import LimitExceeded
from bridge.store.accounts import Accounts
from bridge.store.objects import prepare_object
from bridge.store.records import StoreSettings
from bridge.store.store import CalendarStore, CollectionRecord, Conflict, PreparedObject

BATCH = 500
_TZID = re.compile(r';TZID=("[^"]*"|[^;:]*)', re.IGNORECASE)
_HEAD_PROPS = ("VERSION", "PRODID", "CALSCALE")


@dataclass
class ImportReport:
    calendar_path: str
    imported: int = 0
    replaced: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why)

    def as_dict(self) -> dict:
        return {"calendar": self.calendar_path, "imported": self.imported,
                "replaced": self.replaced,
                "skipped": [{"object": w, "reason": r} for w, r in self.skipped]}

    def summary(self) -> str:
        lines = [f"imported {self.imported} objects into /{self.calendar_path}/ "
                 f"({self.replaced} replaced existing UIDs), skipped {len(self.skipped)}"]
        lines += [f"  skipped {what}: {why}" for what, why in self.skipped]
        return "\n".join(lines)


@dataclass(slots=True)
class _Component:
    """What the first pass keeps of one component (slots: a file holds 100,000s of them)."""

    name: str
    start: int  # byte range in the file
    end: int
    uid: str = ""
    summary: str = ""
    tzids: tuple[str, ...] = ()


@dataclass
class _Scan:
    components: list[_Component] = field(default_factory=list)
    zones: dict[str, _Component] = field(default_factory=dict)  # by TZID
    head: dict[str, str] = field(default_factory=dict)  # calendar property -> raw line
    newline: str = "\r\n"


def _logical_lines(handle: BinaryIO) -> Iterator[tuple[int, int, str]]:
    """(start, end, unfolded text) of each content line, byte offsets into the file."""
    start, text, offset = 0, None, 0
    for raw in handle:
        if offset == 0 and raw.startswith(b"\xef\xbb\xbf"):
            offset, raw = 3, raw[3:]
        line = raw.decode("utf-8", "replace")
        if text is not None and line[:1] in (" ", "\t"):
            text += line[1:].rstrip("\r\n")
        else:
            if text is not None:
                yield start, offset, text
            start, text = offset, line.rstrip("\r\n")
        offset += len(raw)
    if text is not None:
        yield start, offset, text


def _scan(handle: BinaryIO) -> _Scan:
    scan, depth, current = _Scan(), 0, None
    first = handle.readline()
    scan.newline = "\r\n" if first.endswith(b"\r\n") or not first else "\n"
    handle.seek(0)
    for start, end, text in _logical_lines(handle):
        name, _, value = text.partition(":")
        key = name.split(";", 1)[0].strip().upper()
        if key == "BEGIN":
            depth += 1
            if depth == 2:
                current = _Component(value.strip().upper(), start, end)
        elif key == "END":
            if depth == 2 and current is not None:
                current.end = end
                if current.name == "VTIMEZONE":
                    scan.zones[current.uid] = current
                else:
                    scan.components.append(current)
                current = None
            depth -= 1
        elif depth == 1 and key in (*_HEAD_PROPS, "X-WR-CALNAME"):
            scan.head[key] = f"{name}:{value}"
        elif current is not None:
            if depth == 2 and key in ("UID", "TZID") and not current.uid:
                current.uid = value.strip()  # a VTIMEZONE is kept by its TZID
            elif depth == 2 and key == "SUMMARY":
                current.summary = value[:60]
            for tzid in _TZID.findall(name):
                if tzid.strip('"') not in current.tzids:
                    current.tzids += (tzid.strip('"'),)
    return scan


def _grouped(scan: _Scan, skipped: list[tuple[str, str]]) -> list[list[_Component]]:
    """The components of each UID, in the order UIDs first appear."""
    by_uid: dict[str, list[_Component]] = {}
    for position, component in enumerate(scan.components, 1):
        if component.name not in OBJECT_COMPONENTS:
            skipped.append((f"{component.name} #{position}", "component type not stored"))
        elif not component.uid:
            skipped.append((f"{component.name} #{position} {component.summary}".strip(),
                            "no UID"))
        else:
            by_uid.setdefault(component.uid, []).append(component)
    groups = []
    for uid, components in by_uid.items():
        if len({c.name for c in components}) > 1:
            skipped.append((uid, "one UID used by several component types"))
        else:
            groups.append(components)
    return groups


def _read(handle: BinaryIO, component: _Component) -> str:
    handle.seek(component.start)
    text = handle.read(component.end - component.start).decode("utf-8", "replace")
    return text if text.endswith("\n") else text + "\r\n"


def _object_text(handle: BinaryIO, scan: _Scan, components: list[_Component]) -> str:
    newline = scan.newline
    head = [f"BEGIN:VCALENDAR{newline}"]
    head += [scan.head[key] + newline for key in _HEAD_PROPS if key in scan.head]
    if "VERSION" not in scan.head:
        head.insert(1, f"VERSION:2.0{newline}")
    if "PRODID" not in scan.head:
        head.insert(2, f"PRODID:-//calbridge//import//EN{newline}")
    tzids = sorted({tzid for c in components for tzid in c.tzids})
    zones = [_read(handle, scan.zones[tzid]) for tzid in tzids if tzid in scan.zones]
    return "".join(head + zones + [_read(handle, c) for c in components]) + \
        f"END:VCALENDAR{newline}"


# -- preparing, in worker processes -------------------------------------------------------------

_worker_settings = StoreSettings()


def _init_worker(settings: StoreSettings) -> None:
    global _worker_settings
    _worker_settings = settings


def _prepare(text: str) -> PreparedObject | str:
    """The prepared object, or why the store refuses it."""
    try:
        return prepare_object(_worker_settings, text)
    except (InvalidObject, LimitExceeded) as exc:
        return str(exc)


class _InProcess(Executor):
    """The pool's interface, run in this process (small files)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _executor(settings: StoreSettings, objects: int, workers: int | None) -> Executor:
    if objects < 2 * BATCH or workers == 1:
        _init_worker(settings)
        return _InProcess()
    return ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1,
                               mp_context=get_context("spawn"),
                               initializer=_init_worker, initargs=(settings,))


def href_for_uid(uid: str) -> str:
    href = uid if uid.lower().endswith(".ics") else uid + ".ics"
    if pathutils.is_safe_filesystem_path_component(href):
        return href
    return etag_of(uid).strip('"') + ".ics"


def import_calendar(store: CalendarStore, calendar_path: str, source: Path | str,
                    progress: bool = True, workers: int | None = None) -> ImportReport:
    path = calendar_path.strip("/")
    if path.count("/") != 1:
        raise ValueError("CALENDAR_PATH is /<username>/<calendar>/")
    owner = path.split("/")[0]
    if Accounts(store).get_user(owner) is None:  # a calendar needs its owner: nothing is made
        raise LookupError(f"no user {owner!r}; add it first with `calbridge user add {owner}`")
    report = ImportReport(path)
    with open(source, "rb") as handle:
        scan = _scan(handle)
        if not scan.head and not scan.components:
            raise ValueError("the file is not iCalendar: no VCALENDAR in it")
        groups = _grouped(scan, report.skipped)
        record = _calendar(store, path, scan.head.get("X-WR-CALNAME", "").partition(":")[2])
        existing = store.uid_hrefs(record.id)
        bar = tqdm(total=len(groups), desc="importing", unit="obj", disable=not progress)
        with _executor(store.settings, len(groups), workers) as pool:
            pending = _submit(pool, handle, scan, groups[:BATCH])
            for start in range(0, len(groups), BATCH):
                done = pending
                pending = _submit(pool, handle, scan, groups[start + BATCH:start + 2 * BATCH])
                _write(store, record.id, path, done, existing, report)
                bar.update(len(done))
        bar.close()
    return report


def _submit(pool: Executor, handle: BinaryIO, scan: _Scan, groups: Sequence[list[_Component]]
            ) -> list[tuple[str, Future]]:
    return [(components[0].uid, pool.submit(_prepare, _object_text(handle, scan, components)))
            for components in groups]


def _calendar(store: CalendarStore, path: str, name: str) -> CollectionRecord:
    record = store.get_collection(path)
    if record is None:
        store.create_collection(path.split("/")[0])
        props = {"tag": "VCALENDAR", "D:displayname": name or path.split("/")[1]}
        record, _, _ = store.create_collection(path, props)
    elif record.tag != "VCALENDAR":
        raise ValueError(f"/{path}/ is not a calendar")
    return record


def _write(store: CalendarStore, collection_id: int, path: str,
           batch: list[tuple[str, Future]], existing: dict[str, str],
           report: ImportReport) -> None:
    prepared = []
    for uid, future in batch:
        result = future.result()
        if isinstance(result, str):
            report.skipped.append((uid, result))
        else:
            prepared.append((uid, result))
    with store.write(path):
        for uid, obj in prepared:
            href = existing.get(uid) or href_for_uid(uid)
            try:
                store.put_object(collection_id, href, obj)
            except Conflict as exc:
                report.skipped.append((uid, str(exc)))
                continue
            if uid in existing:
                report.replaced += 1
            existing[uid] = href
            report.imported += 1
