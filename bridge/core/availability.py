"""Schedules (availability rules) as RFC 7953 VAVAILABILITY, and the slots they leave free.

Pure functions, no I/O. Mapping (also in docs/architecture.md):
- all schedules of a calendar live in one VCALENDAR, the calendar's CalDAV property
  ``C:calendar-availability``, one VAVAILABILITY per schedule (UID, SUMMARY, DESCRIPTION,
  PRIORITY, X-CALBRIDGE-SCHEDULE-ID, CREATED, LAST-MODIFIED);
- an *available* schedule holds one AVAILABLE child: DTSTART/DTEND with TZID are the first day's
  wall-clock window, RRULE the repetition (FREQ=DAILY, WEEKLY;BYDAY=..., MONTHLY;BYMONTHDAY=..,
  none for once) with UNTIL at the end of the last day, EXDATE the exceptions;
- an *unavailable* schedule has no RFC 7953 form for a repeating block, so it holds the same
  child shape as an ``X-CALBRIDGE-UNAVAILABLE`` component (RFC 5545 x-comp; other readers skip it).
Times of day are wall-clock in the schedule's time zone, so 09:00 stays 09:00 across DST.
"""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

import icalendar

from bridge.core.times import as_utc, duration_value, from_ts, ical_utc, time_value, to_ts

logger = logging.getLogger(__name__)
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
UNAVAILABLE_COMPONENT = "X-CALBRIDGE-UNAVAILABLE"
# The calendar property (CalDAV, RFC 7953) that holds every schedule of a calendar.
AVAILABILITY_PROP = "C:calendar-availability"
Recurrence = Literal["once", "daily", "weekly", "monthly"]
Kind = Literal["available", "unavailable"]
Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Schedule:
    id: int
    uid: str
    name: str
    kind: Kind
    timezone: str
    recurrence: Recurrence
    start_minute: int           # minutes after local midnight
    end_minute: int             # exclusive; 1440 is 24:00
    start_date: dt.date
    end_date: dt.date | None = None
    days_of_week: tuple[int, ...] = ()   # 0 = Monday
    day_of_month: int | None = None      # 1..31, or -1 for the last day
    exceptions: tuple[dt.date, ...] = ()
    description: str | None = None
    created_at: int = 0
    updated_at: int = 0
    priority: int = field(default=0)

    @property
    def rrule(self) -> str | None:
        if self.recurrence == "once":
            return None
        parts = [f"FREQ={self.recurrence.upper()}"]
        if self.recurrence == "weekly":
            parts.append("BYDAY=" + ",".join(WEEKDAYS[d] for d in sorted(self.days_of_week)))
        if self.recurrence == "monthly":
            parts.append(f"BYMONTHDAY={self.day_of_month}")
        if self.end_date is not None:
            last = local_datetime(self.timezone, self.end_date, 1440) - dt.timedelta(seconds=1)
            parts.append("UNTIL=" + ical_utc(last))
        return ";".join(parts)

    def occurs_on(self, day: dt.date) -> bool:
        if day < self.start_date or (self.end_date and day > self.end_date):
            return False
        if day in self.exceptions:
            return False
        if self.recurrence == "once":
            return day == self.start_date
        if self.recurrence == "weekly":
            return day.weekday() in self.days_of_week
        if self.recurrence == "monthly":
            last = pycalendar.monthrange(day.year, day.month)[1]
            wanted = last if self.day_of_month == -1 else self.day_of_month
            return day.day == wanted
        return True


def local_datetime(timezone: str, day: dt.date, minute: int) -> dt.datetime:
    """The aware local time ``minute`` minutes after midnight of ``day`` (1440: next midnight)."""
    day = day + dt.timedelta(days=minute // 1440)
    minute %= 1440
    return dt.datetime.combine(day, dt.time(minute // 60, minute % 60), ZoneInfo(timezone))


def intervals(schedule: Schedule, start: dt.datetime, end: dt.datetime) -> list[Interval]:
    """The schedule's windows overlapping [start, end), in UTC, clipped to it."""
    zone = ZoneInfo(schedule.timezone)
    day = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date() + dt.timedelta(days=1)
    out: list[Interval] = []
    while day <= last:
        if schedule.occurs_on(day):
            s = as_utc(local_datetime(schedule.timezone, day, schedule.start_minute))
            e = as_utc(local_datetime(schedule.timezone, day, schedule.end_minute))
            s, e = max(s, start), min(e, end)
            if s < e:
                out.append((s, e))
        day += dt.timedelta(days=1)
    return out


def merge(spans: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def subtract(spans: Sequence[Interval], holes: Iterable[Interval]) -> list[Interval]:
    result = list(spans)
    for hs, he in merge(holes):
        next_result: list[Interval] = []
        for s, e in result:
            if he <= s or hs >= e:
                next_result.append((s, e))
                continue
            if s < hs:
                next_result.append((s, hs))
            if he < e:
                next_result.append((he, e))
        result = next_result
    return result


def open_time(schedules: Sequence[Schedule], start: dt.datetime, end: dt.datetime
              ) -> list[Interval]:
    """When the calendar may be booked: everything if it has no schedules (open), else the
    available windows minus the unavailable ones."""
    available = [s for s in schedules if s.kind == "available"]
    if available:
        spans = merge(i for s in available for i in intervals(s, start, end))
    else:
        spans = [(start, end)]
    blocks = [i for s in schedules if s.kind == "unavailable" for i in intervals(s, start, end)]
    return subtract(spans, blocks)


def within_open_time(schedules: Sequence[Schedule], start: dt.datetime, end: dt.datetime
                     ) -> bool:
    if not schedules:
        return True
    free = open_time(schedules, start, end)
    return len(free) == 1 and free[0] == (start, end)


def slots(schedules: Sequence[Schedule], busy: Iterable[Interval], start: dt.datetime,
          end: dt.datetime, duration: dt.timedelta, step: dt.timedelta) -> list[Interval]:
    """Bookable slots of ``duration`` starting every ``step`` from the start of each open
    window, wholly inside open time and overlapping no busy period."""
    free = subtract(open_time(schedules, start, end), busy)
    windows = merge(open_time(schedules, start, end))
    out: list[Interval] = []
    for window_start, window_end in windows:
        candidate = window_start
        while candidate + duration <= window_end:
            slot = (candidate, candidate + duration)
            if any(s <= slot[0] and slot[1] <= e for s, e in free):
                out.append(slot)
            candidate += step
    return out


# -- iCalendar mapping ------------------------------------------------------------------------


# Bare components: icalendar's own Availability class would reorder the properties it writes.
class _VAvailability(icalendar.cal.Component):
    name = "VAVAILABILITY"


class _Available(icalendar.cal.Component):
    name = "AVAILABLE"


class _Unavailable(icalendar.cal.Component):
    name = UNAVAILABLE_COMPONENT


def _child(schedule: Schedule, now: dt.datetime) -> icalendar.cal.Component:
    child = _Available() if schedule.kind == "available" else _Unavailable()
    child.add("UID", f"{schedule.uid}-window")
    child.add("DTSTAMP", now)
    zone = schedule.timezone
    child.add("DTSTART", local_datetime(zone, schedule.start_date, schedule.start_minute))
    child.add("DTEND", local_datetime(zone, schedule.start_date, schedule.end_minute))
    if schedule.rrule:
        child.add("RRULE", icalendar.vRecur.from_ical(schedule.rrule))
    for day in schedule.exceptions:
        child.add("EXDATE", local_datetime(zone, day, schedule.start_minute))
    return child


def schedule_component(schedule: Schedule, now: dt.datetime) -> icalendar.cal.Component:
    vavailability = _VAvailability()
    vavailability.add("UID", schedule.uid)
    vavailability.add("DTSTAMP", now)
    vavailability.add("SUMMARY", schedule.name)
    if schedule.description:
        vavailability.add("DESCRIPTION", schedule.description)
    vavailability.add("PRIORITY", schedule.priority or (9 if schedule.kind == "available" else 1))
    vavailability.add("BUSYTYPE", "BUSY-UNAVAILABLE")
    vavailability.add("X-CALBRIDGE-SCHEDULE-ID", str(schedule.id))
    vavailability.add("CREATED", from_ts(schedule.created_at))
    vavailability.add("LAST-MODIFIED", from_ts(schedule.updated_at))
    vavailability.add_component(_child(schedule, now))
    return vavailability


def schedules_text(schedules: Sequence[Schedule], now: dt.datetime) -> str:
    cal = icalendar.Calendar()
    cal.add("PRODID", "-//calbridge//availability//EN")
    cal.add("VERSION", "2.0")
    for zone in sorted({s.timezone for s in schedules}):
        cal.add_component(icalendar.Timezone.from_tzid(zone))
    for schedule in sorted(schedules, key=lambda s: s.id):
        cal.add_component(schedule_component(schedule, now))
    return cal.to_ical().decode()


def _epoch(component: icalendar.cal.Component, key: str) -> int:
    value = component.get(key)
    return to_ts(value.dt) if value is not None else 0


def _minute(value: dt.datetime) -> int:
    return value.hour * 60 + value.minute


def _window(child: icalendar.cal.Component) -> tuple[dt.datetime, dt.datetime]:
    """The first day's window of a schedule (date-times: a schedule has times of day)."""
    start = time_value(child, "DTSTART")
    end = time_value(child, "DTEND") if "DTEND" in child else start + duration_value(child)
    if not isinstance(start, dt.datetime) or not isinstance(end, dt.datetime):
        raise ValueError("a schedule's window starts and ends at a date-time")
    return start, end


@dataclass(frozen=True)
class _Repetition:
    """What a schedule's RRULE says, in the schedule's terms."""

    recurrence: Recurrence = "once"
    days_of_week: tuple[int, ...] = ()
    day_of_month: int | None = None
    end_date: dt.date | None = None


def _repetition(recur: icalendar.vRecur | None, zone: str) -> _Repetition:
    if recur is None:
        return _Repetition()
    freq = recur["FREQ"][0].lower()
    recurrence: Recurrence = freq if freq in ("daily", "weekly", "monthly") else "daily"
    days = tuple(sorted(WEEKDAYS.index(str(d)[-2:]) for d in recur.get("BYDAY", [])))
    day_of_month = int(recur["BYMONTHDAY"][0]) if "BYMONTHDAY" in recur else None
    end_date = None
    if "UNTIL" in recur:
        until = recur["UNTIL"][0]
        if isinstance(until, dt.datetime):
            until = until.astimezone(ZoneInfo(zone)) if until.tzinfo else until
            end_date = until.date()
        else:
            end_date = until
    return _Repetition(recurrence, days, day_of_month, end_date)


def _exceptions(child: icalendar.cal.Component) -> tuple[dt.date, ...]:
    exdates = child.get("EXDATE", [])
    exdates = exdates if isinstance(exdates, list) else [exdates]
    return tuple(sorted(d.dt.date() if isinstance(d.dt, dt.datetime) else d.dt
                        for group in exdates for d in group.dts))


def _schedule(position: int, vavailability: icalendar.cal.Component,
              child: icalendar.cal.Component) -> Schedule:
    start, end = _window(child)
    zone = str(getattr(start.tzinfo, "key", "UTC"))  # a zone without an IANA key: UTC
    repetition = _repetition(child.get("RRULE"), zone)
    schedule_id = vavailability.get("X-CALBRIDGE-SCHEDULE-ID")
    return Schedule(
        id=int(schedule_id) if schedule_id is not None else position,
        uid=str(vavailability.get("UID", f"availability-{position}")),
        name=str(vavailability.get("SUMMARY", "")),
        description=str(vavailability["DESCRIPTION"]) if "DESCRIPTION" in vavailability
        else None,
        kind="available" if child.name == "AVAILABLE" else "unavailable",
        timezone=zone, recurrence=repetition.recurrence, start_minute=_minute(start),
        end_minute=_minute(end) + 1440 * (end.date() - start.date()).days,
        start_date=start.date(), end_date=repetition.end_date,
        days_of_week=repetition.days_of_week, day_of_month=repetition.day_of_month,
        exceptions=_exceptions(child),
        created_at=_epoch(vavailability, "CREATED"),
        updated_at=_epoch(vavailability, "LAST-MODIFIED"),
        priority=int(vavailability.get("PRIORITY", 0)))


def parse_schedules(text: str | None) -> list[Schedule]:
    """The schedules stored in a calendar-availability VCALENDAR (ours or another writer's)."""
    if not text:
        return []
    cal = icalendar.Calendar.from_ical(text)
    out = []
    for position, vavailability in enumerate(cal.walk("VAVAILABILITY"), 1):
        children = [c for c in vavailability.subcomponents
                    if c.name in ("AVAILABLE", UNAVAILABLE_COMPONENT)]
        if children:
            out.append(_schedule(position, vavailability, children[0]))
    return sorted(out, key=lambda s: s.id)


def _check_usable(schedule: Schedule) -> None:
    """Raise unless every use of ``schedule`` (open time, slots, rendering) can work."""
    ZoneInfo(schedule.timezone)
    if not 0 <= schedule.start_minute < schedule.end_minute <= schedule.start_minute + 1440:
        raise ValueError("a window must end after it starts, within a day")
    if any(not 0 <= d <= 6 for d in schedule.days_of_week) or \
            schedule.day_of_month not in (None, -1, *range(1, 32)):
        raise ValueError("days out of range")
    for day in (schedule.start_date, schedule.end_date, *schedule.exceptions):
        if day is not None and not 1900 <= day.year <= 2999:
            raise ValueError("dates must lie between 1900 and 2999")
    for stamp in (schedule.created_at, schedule.updated_at):
        from_ts(stamp)
    first = local_datetime(schedule.timezone, schedule.start_date, 0)
    schedule.rrule  # noqa: B018 (computing it is the check)
    intervals(schedule, first, first + dt.timedelta(days=2))


def validated_schedules(text: str) -> list[Schedule]:
    """The schedules of a ``C:calendar-availability`` value, or ValueError saying why the
    API could not use it (the check on write: a client's PROPPATCH is refused)."""
    try:
        schedules = parse_schedules(text)
        for schedule in schedules:
            _check_usable(schedule)
    except Exception as exc:  # icalendar and the mapping raise many kinds on garbage
        raise ValueError(f"not a usable VAVAILABILITY calendar ({exc})") from exc
    return schedules


def stored_schedules(text: str | None) -> list[Schedule]:
    """The schedules to apply on read. A value the API cannot use (stored before values were
    checked on write) counts as no schedules and is logged, so it never breaks a request."""
    try:
        return validated_schedules(text or "")
    except ValueError as exc:
        logger.warning("ignoring stored calendar-availability: %s", exc)
        return []


def with_schedule(schedules: Sequence[Schedule], schedule: Schedule) -> list[Schedule]:
    return [s for s in schedules if s.id != schedule.id] + [schedule]


def next_schedule_id(schedules: Sequence[Schedule]) -> int:
    return max((s.id for s in schedules), default=0) + 1


