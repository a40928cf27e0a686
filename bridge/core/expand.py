"""Expand one stored object into the instances that overlap a window (RFC 4791 9.6.5).

recurring-ical-events decides which instances exist, so the CalDAV expand answer equals what
the REST API lists for the same window; ``bridge.core.recurrence`` bounds the cost (rules
re-anchored near the window, at most ``max_instances`` per object). The instances are written
by rewriting the stored component text (only the time and recurrence lines change), which
keeps every other line byte-for-byte and avoids re-serializing through icalendar. Parsed
objects and their templates are kept by etag in ``bridge.core.cache`` LRUs (4096 each; an etag
names the text, so an entry is never stale).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import icalendar

from bridge.core.cache import BoundedLRU
from bridge.core.codec import Document
from bridge.core.etag import etag_of
from bridge.core.limits import Limits
from bridge.core.recurrence import (
    Instance,
    bounded_instances,
    instances,
    overlaps,
    series_of,
    single_instance,
)
from bridge.core.times import as_utc_keep_dates, ical_utc, time_value

_REPLACED = frozenset({"DTSTART", "DTEND", "DUE", "RECURRENCE-ID", "RRULE", "RDATE", "EXDATE",
                       "EXRULE"})


# Bytes of an icalendar parse (or of expansion templates) per byte of its text, measured.
PARSE_WEIGHT = 13
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024


def weight(text: str) -> int:
    """What the parse of ``text`` is taken to weigh in a cache."""
    return PARSE_WEIGHT * len(text)


@dataclass(frozen=True)
class _Parsed:
    calendar: icalendar.Calendar
    weight: int


class ParsedObjects:
    """Parsed objects by etag. The etag is a hash of the text, so an entry can never be stale;
    the bound is what the parses weigh, ``max_bytes`` (one entry at most an eighth of it)."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.resize(max_bytes)

    def resize(self, max_bytes: int) -> None:
        self._entries: BoundedLRU[str, _Parsed] = BoundedLRU(
            max_bytes, lambda entry: entry.weight, max_item=max_bytes // 8)

    @property
    def size(self) -> int:
        return self._entries.size

    def get(self, text: str, etag: str | None = None) -> icalendar.Calendar:
        return self._entries.get_or_build(
            etag or etag_of(text),
            lambda: _Parsed(icalendar.Calendar.from_ical(text), weight(text))).calendar


parsed_objects = ParsedObjects()


def _ical_time(name: str, value: dt.date | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        return f"{name}:{ical_utc(value)}\r\n"
    return f"{name};VALUE=DATE:{value.strftime('%Y%m%d')}\r\n"


def component_blocks(text: str, name: str = "VEVENT") -> list[list[str]]:
    """The raw content lines (unfolded lines kept with their continuations) of each top-level
    ``name`` component, in the order they appear, with CRLF line ends taken off."""
    if "\r\n" not in text:
        text = text.replace("\n", "\r\n")
    return [[line for raw in block.lines() if (line := raw.removesuffix("\r\n"))]
            for block in Document.parse(text).blocks(name)]


_NAME = re.compile(r"[A-Za-z0-9-]+")


@dataclass(frozen=True)
class _Template:
    """A stored component with its time and recurrence lines taken out."""

    begin: str
    kept: str
    has_duration: bool

    @classmethod
    def of(cls, block: list[str]) -> _Template:
        names = [m.group(0).upper() if (m := _NAME.match(line)) else "" for line in block]
        kept = "".join(line + "\r\n" for line, name in zip(block[1:], names[1:], strict=True)
                       if name not in _REPLACED)
        return cls(block[0] + "\r\n", kept, "DURATION" in names)

    def instance(self, instance: icalendar.cal.Component, recurring: bool) -> str:
        # A to-do may have DUE without DTSTART; an instance is named by DTSTART, else DUE.
        start = time_value(instance, "DTSTART") if "DTSTART" in instance else None
        ends = [(name, time_value(instance, name)) for name in ("DTEND", "DUE")
                if name in instance]
        recurrence_id = instance.get("RECURRENCE-ID")
        named = recurrence_id.dt if recurrence_id is not None else \
            start if start is not None else time_value(instance, "DUE")
        return self.written(start, ends, named if recurring else None)

    def written(self, start: dt.date | dt.datetime | None,
                ends: list[tuple[str, dt.date | dt.datetime]],
                recurrence_id: dt.date | dt.datetime | None) -> str:
        """The component with these times (in UTC) in place of its own."""
        lines = [self.begin]
        if start is not None:
            lines.append(_ical_time("DTSTART", start))
        if not self.has_duration:
            lines += [_ical_time(name, value) for name, value in ends]
        if recurrence_id is not None:
            lines.append(_ical_time("RECURRENCE-ID", recurrence_id))
        lines.append(self.kept)
        return "".join(lines)


@dataclass(frozen=True)
class _Templates:
    """What expanding one stored object needs besides its instances, computed once per etag."""

    head: str
    master: _Template
    overrides: dict[dt.date | dt.datetime, _Template]
    recurring: bool
    single: Instance | None  # the one instance of a non-recurring object
    series: list[Any]  # recurring-ical-events' series: building them is the costly part
    weight: int = 0  # what the cache counts it as (bytes)


def _template_cache(max_bytes: int) -> BoundedLRU[tuple[str, str, str], _Templates]:
    return BoundedLRU(max_bytes, lambda entry: entry.weight, max_item=max_bytes // 8)


# The templates by (etag, text, component), weighed as their parse.
_templates_cache = _template_cache(DEFAULT_CACHE_BYTES)


def configure(max_bytes: int) -> None:
    """The byte budget of each of the two caches (start-up: ``storage.parse_cache_bytes``)."""
    global _templates_cache
    parsed_objects.resize(max_bytes)
    _templates_cache = _template_cache(max_bytes)


def _templates(etag: str, text: str, component: str = "VEVENT") -> _Templates:
    return _templates_cache.get_or_build((etag, text, component),
                                         lambda: _build_templates(etag, text, component))


def _build_templates(etag: str, text: str, component: str = "VEVENT") -> _Templates:
    """VTODO and VJOURNAL take the same path as VEVENT, but always through the series (their
    RFC 4791 9.9 time ranges differ; recurring-ical-events decides their instances)."""
    cal = parsed_objects.get(text, etag)
    events = cal.walk(component)
    blocks = component_blocks(text, component)
    if len(blocks) != len(events) or not events:
        raise ValueError(f"the object's {component} blocks could not be matched")
    master = None
    overrides: dict[dt.date | dt.datetime, _Template] = {}
    for event, block in zip(events, blocks, strict=True):
        if "RECURRENCE-ID" in event:
            overrides[as_utc_keep_dates(time_value(event, "RECURRENCE-ID"))] = _Template.of(block)
        elif master is None:
            master = _Template.of(block)
    recurring = bool(overrides) or any(k in e for e in events for k in ("RRULE", "RDATE"))
    head = "BEGIN:VCALENDAR\r\n" + "".join(
        f"{key}:{cal[key]}\r\n" for key in ("VERSION", "PRODID", "CALSCALE") if key in cal)
    single = single_instance(events[0]) if component == "VEVENT" and not recurring and \
        len(events) == 1 and "DTSTART" in events[0] else None
    series = [] if single is not None else series_of(cal, component)
    return _Templates(head, master or _Template.of(blocks[0]), overrides, recurring, single,
                      series, weight(text))


def instances_between(text: str, etag: str, start: dt.datetime, end: dt.datetime,
                      max_instances: int = Limits.max_instances) -> list[Instance]:
    """The VEVENT instances of a stored object overlapping [start, end), by start; more than
    ``max_instances`` is TooManyInstances. Their components are shared with a cache: read
    them, never change them."""
    templates = _templates(etag, text)
    if templates.single is not None:
        return [templates.single] if overlaps(templates.single, start, end) else []
    return bounded_instances(templates.series, start, end, max_instances)


def some_instances(text: str, etag: str, start: dt.datetime, end: dt.datetime, limit: int
                   ) -> list[Instance]:
    """The VEVENT instances overlapping [start, end) in any order, at most ``limit`` + 1 of
    them (more than ``limit``: there are more)."""
    templates = _templates(etag, text)
    if templates.single is not None:
        return [templates.single] if overlaps(templates.single, start, end) else []
    return instances(templates.series, start, end, limit)


def has_instance(text: str, etag: str, start: dt.datetime, end: dt.datetime) -> bool:
    """Whether the object has a VEVENT instance overlapping [start, end) (stops at the first)."""
    return bool(some_instances(text, etag, start, end, 0))


def expanded_calendar_text(text: str, start: dt.datetime, end: dt.datetime,
                           etag: str | None = None,
                           max_instances: int = Limits.max_instances,
                           component: str = "VEVENT") -> tuple[str, int]:
    """The object as RFC 4791 expanded calendar-data: instances in UTC, no rules, no VTIMEZONE
    (of its ``component``s: VEVENT, VTODO or VJOURNAL).

    Returns the text and the number of instances (0: the object has none in the window);
    more than ``max_instances`` is TooManyInstances.
    """
    templates = _templates(etag or etag_of(text), text, component)
    if templates.single is not None:
        # A single event is its own only instance: no need for the recurrence machinery.
        if not overlaps(templates.single, start, end):
            return "", 0
        body = templates.master.instance(templates.single.component(), False)
        return templates.head + body + "END:VCALENDAR\r\n", 1
    found = bounded_instances(templates.series, start, end, max_instances)
    if not found:
        return "", 0
    bodies = [_event_instance(templates, instance) if component == "VEVENT" else
              _component_instance(templates, instance) for instance in found]
    return templates.head + "".join(bodies) + "END:VCALENDAR\r\n", len(found)


def _component_instance(templates: _Templates, instance: Instance) -> str:
    found_component = instance.component()
    recurrence_id = found_component.get("RECURRENCE-ID")
    source = templates.overrides.get(as_utc_keep_dates(recurrence_id.dt)) \
        if recurrence_id is not None else None
    return (source or templates.master).instance(found_component, templates.recurring)


def _event_instance(templates: _Templates, instance: Instance) -> str:
    """What ``_component_instance`` writes for a VEVENT, from the occurrence's times and its
    stored component, without the copy recurring-ical-events makes of it (half the cost of an
    expand): DTSTART and DTEND are the occurrence's, RECURRENCE-ID the override's own or the
    start (as ``Occurrence.as_component`` sets them)."""
    occurrence = instance.occurrence
    stored_id = instance.source.get("RECURRENCE-ID")
    recurrence_id = stored_id.dt if stored_id is not None else occurrence.start
    source = templates.overrides.get(as_utc_keep_dates(recurrence_id))
    return (source or templates.master).written(
        occurrence.start, [("DTEND", occurrence.end)],
        recurrence_id if templates.recurring else None)
