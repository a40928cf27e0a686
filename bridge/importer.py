"""Bulk import of a whole-calendar .ics (a Google or Radicale export) into one calendar."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import icalendar
from radicale import pathutils
from tqdm import tqdm

from bridge.core.etag import etag_of
from bridge.core.index import OBJECT_COMPONENTS, InvalidObject
from bridge.store.accounts import Accounts
from bridge.store.store import CalendarStore, Conflict, PreparedObject

BATCH = 200


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


def split_calendar(text: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
    """Split into one VCALENDAR text per UID, each with the VTIMEZONEs it references.

    Returns (objects as (uid, text), skipped as (what, why), calendar name).
    """
    try:
        cal = icalendar.Calendar.from_ical(text)
    except Exception as exc:
        raise ValueError(f"the file is not iCalendar: {exc}") from exc
    timezones = {str(tz["TZID"]): tz for tz in cal.walk("VTIMEZONE") if "TZID" in tz}
    by_uid: dict[str, list[icalendar.cal.Component]] = defaultdict(list)
    skipped: list[tuple[str, str]] = []
    for position, component in enumerate(cal.subcomponents, 1):
        if component.name == "VTIMEZONE":
            continue
        if component.name not in OBJECT_COMPONENTS:
            skipped.append((f"{component.name} #{position}", "component type not stored"))
            continue
        uid = str(component.get("UID", ""))
        if not uid:
            summary = component.get("SUMMARY", "")
            skipped.append((f"{component.name} #{position} {summary!s}".strip(), "no UID"))
            continue
        by_uid[uid].append(component)
    objects = []
    for uid, components in by_uid.items():
        if len({c.name for c in components}) > 1:
            skipped.append((uid, "one UID used by several component types"))
            continue
        out = icalendar.Calendar()
        out.add("VERSION", "2.0")
        out.add("PRODID", cal.get("PRODID", "-//calbridge//import//EN"))
        tzids = {str(p.params["TZID"]) for c in components for p in _properties(c)
                 if hasattr(p, "params") and "TZID" in p.params}
        for tzid in sorted(tzids):
            if tzid in timezones:
                out.add_component(timezones[tzid])
        for component in components:
            out.add_component(component)
        objects.append((uid, out.to_ical().decode()))
    name = str(cal.get("X-WR-CALNAME", ""))
    return objects, skipped, name


def _properties(component: icalendar.cal.Component) -> list:
    values = []
    for value in component.values():
        values.extend(value if isinstance(value, list) else [value])
    return values


def href_for_uid(uid: str) -> str:
    href = uid if uid.lower().endswith(".ics") else uid + ".ics"
    if pathutils.is_safe_filesystem_path_component(href):
        return href
    return etag_of(uid).strip('"') + ".ics"


def import_calendar(store: CalendarStore, calendar_path: str, text: str,
                    progress: bool = True) -> ImportReport:
    path = calendar_path.strip("/")
    if path.count("/") != 1:
        raise ValueError("CALENDAR_PATH is /<username>/<calendar>/")
    owner = path.split("/")[0]
    if Accounts(store).get_user(owner) is None:  # a calendar needs its owner: nothing is made
        raise LookupError(f"no user {owner!r}; add it first with `calbridge user add {owner}`")
    report = ImportReport(path)
    objects, skipped, name = split_calendar(text)
    report.skipped.extend(skipped)
    record = store.get_collection(path)
    if record is None:
        store.create_collection(path.split("/")[0])
        props = {"tag": "VCALENDAR", "D:displayname": name or path.split("/")[1]}
        record, _, _ = store.create_collection(path, props)
    elif record.tag != "VCALENDAR":
        raise ValueError(f"/{path}/ is not a calendar")
    prepared: list[tuple[str, PreparedObject]] = []
    for uid, object_text in tqdm(objects, desc="parsing", unit="obj", disable=not progress):
        try:
            prepared.append((uid, store.prepare(object_text)))
        except InvalidObject as exc:
            report.skipped.append((uid, str(exc)))
    existing = {r.uid: r.href for r in store.get_objects(record.id)}
    bar = tqdm(total=len(prepared), desc="writing", unit="obj", disable=not progress)
    for start in range(0, len(prepared), BATCH):
        batch = prepared[start:start + BATCH]
        with store.write(path):
            for uid, obj in batch:
                href = existing.get(uid) or href_for_uid(uid)
                try:
                    store.put_object(record.id, href, obj)
                except Conflict as exc:
                    report.skipped.append((uid, str(exc)))
                    continue
                if uid in existing:
                    report.replaced += 1
                report.imported += 1
        bar.update(len(batch))
    bar.close()
    return report
