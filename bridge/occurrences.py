"""Instances of a calendar's events in a window: the index picks the candidates, and
recurring-ical-events expands only those (never the whole calendar)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import icalendar

from radicale_plugin.expand import instances_between
from radicale_plugin.store import CalendarStore, ObjectRecord


@dataclass(frozen=True)
class Occurrence:
    record: ObjectRecord
    component: icalendar.cal.Component   # the expanded instance (shared: read, never change)

    @property
    def start(self) -> dt.datetime:
        return as_utc(self.component["DTSTART"].dt)

    @property
    def end(self) -> dt.datetime:
        component = self.component
        if "DTEND" in component:
            return as_utc(component["DTEND"].dt)
        if "DURATION" in component:
            return as_utc(component["DTSTART"].dt + component["DURATION"].dt)
        start = component["DTSTART"].dt
        return as_utc(start + dt.timedelta(days=1)) if not isinstance(start, dt.datetime) \
            else as_utc(start)

    @property
    def busy(self) -> bool:
        """Whether the instance blocks time (opaque and not cancelled)."""
        transparency = str(self.component.get("TRANSP", "OPAQUE")).upper()
        status = str(self.component.get("STATUS", "CONFIRMED")).upper()
        return transparency != "TRANSPARENT" and status != "CANCELLED"


def as_utc(value: dt.date | dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def expand_occurrences(store: CalendarStore, calendar_id: int, start: dt.datetime,
                       end: dt.datetime) -> list[Occurrence]:
    """Every VEVENT instance overlapping [start, end), ordered by start."""
    out: list[Occurrence] = []
    matches = store.objects_in_window(calendar_id, int(start.timestamp()),
                                      int(end.timestamp()) + 1)
    for match in matches:
        record = match.record
        for component in instances_between(record.text, record.etag, start, end):
            out.append(Occurrence(record, component))
    out.sort(key=lambda o: (o.start, o.record.href))
    return out
