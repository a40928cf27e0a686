"""The envelope (start_ts, end_ts) of one parsed object: Radicale's ``time_range``, without vobject.

The store keeps one envelope per object; it prefilters every time-range query, so it must be
the one Radicale computes for the CalDAV door (``radicale.item.find_time_range`` over
``radicale.item.filter.visit_time_ranges``, RFC 4791 9.9 per component type). This module walks
the same icalendar parse the index is built from. Decisions:

- The walk follows Radicale's step by step: overrides (RECURRENCE-ID) first in document order,
  the master last; a series is expanded by dateutil built as vobject's ``getrruleset`` builds it
  (UNTIL adjusted to DTSTART's zone, DTSTART added as an RDATE, COUNT decremented), and
  overridden instances are skipped by Python equality, as Radicale skips them (an all-day
  instance never equals its DATE RECURRENCE-ID, so it stays in the envelope).
- A rule is "infinite" as Radicale reads it: no ``;UNTIL=`` and no ``;COUNT=`` in its text, so a
  rule written ``UNTIL=...;FREQ=...`` counts as infinite (the envelope runs to TIMESTAMP_MAX).
  icalendar keeps the parts of a rule in the order written, which is all that test needs.
- Where Radicale raises (no DTSTART in a VEVENT, DTEND and DURATION together, DTSTART and DTEND
  of different value types, several masters), InvalidObject says so, as before.
- Wider where Radicale cannot answer: VFREEBUSY, VAVAILABILITY and any other first component
  (Radicale raises for them) get DTSTART..DTEND when both are present, else the whole of time.
  Never narrower: a narrower envelope would lose hits.
- A VTIMEZONE is read by icalendar (zoneinfo for known TZIDs), not by vobject: a VTIMEZONE that
  contradicts the tz database for its TZID can move instants; the tests use consistent ones.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import icalendar
from dateutil import rrule as dateutil_rrule

from bridge.core.index import TIMESTAMP_MAX, TIMESTAMP_MIN
from bridge.core.limits import InvalidObject, LimitExceeded
from bridge.core.times import duration_value, time_value

SECOND = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)
DATETIME_MIN = dt.datetime.min.replace(tzinfo=dt.UTC)
DATETIME_MAX = dt.datetime.max.replace(tzinfo=dt.UTC)
_VISITED = ("VEVENT", "VTODO", "VJOURNAL")

Value = dt.date | dt.datetime


class _Stop(Exception):
    """An infinite series: the envelope runs to the end of time, the walk ends (as Radicale's)."""


class _Bounds:
    """The earliest start and latest end seen (Radicale's ``range_fn`` / ``infinity_fn``)."""

    def __init__(self) -> None:
        self.start: dt.datetime | None = None
        self.end: dt.datetime | None = None

    def add(self, start: dt.datetime, end: dt.datetime) -> None:
        if self.start is None or start < self.start:
            self.start = start
        if self.end is None or self.end < end:
            self.end = end

    def infinite(self, start: dt.datetime) -> None:
        if self.start is None or start < self.start:
            self.start = start
        self.end = DATETIME_MAX
        raise _Stop

    def timestamps(self) -> tuple[int, int]:
        start = self.start if self.start is not None else DATETIME_MIN
        end = self.end if self.end is not None else DATETIME_MAX
        return math.floor(start.timestamp()), math.ceil(end.timestamp())


def envelope(cal: icalendar.Calendar) -> tuple[int, int]:
    """(start_ts, end_ts) enclosing every instance of the object, as Radicale computes it."""
    tag = next((c.name for c in cal.subcomponents if c.name != "VTIMEZONE"), "")
    if not tag:
        return TIMESTAMP_MIN, TIMESTAMP_MAX
    components = [c for c in cal.subcomponents if c.name == tag]
    if tag not in _VISITED:
        return _other_envelope(components)
    bounds = _Bounds()
    visit = {"VEVENT": _visit_event, "VTODO": _visit_todo, "VJOURNAL": _visit_journal}[tag]
    try:
        for child, ignore in _children(components):
            visit(child, ignore, bounds)
    except _Stop:
        pass
    except (LimitExceeded, InvalidObject):
        raise
    except Exception as exc:  # dateutil and datetime raise TypeError, ValueError, OverflowError
        raise InvalidObject(f"cannot compute time range: {exc}") from exc
    return bounds.timestamps()


def _other_envelope(components: Sequence[icalendar.cal.Component]) -> tuple[int, int]:
    """VFREEBUSY and the rest (Radicale raises): DTSTART..DTEND of the first, else all time."""
    first = components[0]
    start, end = _value(first, "DTSTART"), _value(first, "DTEND")
    if start is None or end is None:
        return TIMESTAMP_MIN, TIMESTAMP_MAX
    return math.floor(_aware(start).timestamp()), math.ceil(_aware(end).timestamp())


def _children(components: Sequence[icalendar.cal.Component]
              ) -> Iterator[tuple[icalendar.cal.Component, list[Value]]]:
    """Overrides first (nothing skipped), then the master with the overridden instances."""
    main = None
    overridden: list[Value] = []
    last_override = None
    for component in components:
        recurrence_id = _value(component, "RECURRENCE-ID")
        if recurrence_id:
            overridden.append(recurrence_id)
            last_override = component
            yield component, []
        elif main is not None:
            raise InvalidObject("more than one component without RECURRENCE-ID")
        else:
            main = component
    if main is None and len(overridden) == 1:
        main = last_override
    if main is None:
        raise InvalidObject("no component without RECURRENCE-ID")
    yield main, overridden


def _visit_event(child: icalendar.cal.Component, ignore: list[Value], bounds: _Bounds) -> None:
    dtstart = _value(child, "DTSTART")
    if dtstart is None:
        raise InvalidObject("cannot compute time range: missing DTSTART")
    dtstarts = _series(child, dtstart, ignore, bounds)
    dtend = _value(child, "DTEND")
    duration = duration_value(child) if "DURATION" in child else None
    if dtend is not None and duration is not None:
        raise InvalidObject("cannot compute time range: DTEND and DURATION together")
    length: dt.timedelta | None = None
    if dtend is not None:
        length = _event_length(dtstart, dtend)
    for start_value in dtstarts:
        start = _aware(start_value)
        if length is not None:
            bounds.add(start, start + length)
        elif duration is not None:
            step = duration if duration.total_seconds() > 0 else SECOND
            bounds.add(start, start + step)
        else:
            bounds.add(start, start + (SECOND if isinstance(start_value, dt.datetime) else DAY))


def _event_length(dtstart: Value, dtend: Value) -> dt.timedelta:
    """DTEND - DTSTART; a floating one of the two takes the other's zone as the local machine
    reads it (Radicale's "overtake missing tzinfo"); a DATE against a DATE-TIME is refused."""
    if isinstance(dtstart, dt.datetime) and isinstance(dtend, dt.datetime):
        if dtstart.tzinfo is None and dtend.tzinfo is not None:
            dtstart = dtstart.replace(tzinfo=dtend.astimezone().tzinfo)
        elif dtstart.tzinfo is not None and dtend.tzinfo is None:
            dtend = dtend.replace(tzinfo=dtstart.astimezone().tzinfo)
    elif isinstance(dtstart, dt.datetime) or isinstance(dtend, dt.datetime):
        raise InvalidObject("cannot compute time range: DTSTART and DTEND of different types")
    return dt.timedelta(seconds=(dtend - dtstart).total_seconds())


def _visit_todo(child: icalendar.cal.Component, ignore: list[Value], bounds: _Bounds) -> None:
    raw_start, raw_due = _value(child, "DTSTART"), _value(child, "DUE")
    dtstart = _aware_or_none(raw_start)
    due = _aware_or_none(raw_due)
    completed = _aware_or_none(_value(child, "COMPLETED"))
    created = _aware_or_none(_value(child, "CREATED"))
    duration = duration_value(child) if "DURATION" in child else None
    rule_start = raw_start if raw_start is not None else raw_due
    references: Iterable[Value]
    if rule_start is not None and _has_rules(child):
        references = _series(child, rule_start, ignore, bounds)
    else:
        first = next((v for v in (dtstart, due, completed, created) if v is not None), None)
        if first is None:
            bounds.add(DATETIME_MIN, DATETIME_MAX)  # Line 8 of RFC 4791 9.9's table
        references = () if first is None else (first,)
    for reference_value in references:
        reference = _aware(reference_value)
        if dtstart is not None and duration is not None:
            bounds.add(reference, reference + duration + SECOND)
            bounds.add(reference + duration - SECOND, reference + duration + SECOND)
        elif dtstart is not None and due is not None:
            end = reference + (due - dtstart)
            bounds.add(min(reference, end - SECOND), max(end, reference + SECOND))
        elif dtstart is not None:
            bounds.add(reference, reference + SECOND)
        elif due is not None:
            bounds.add(reference - SECOND, reference)
        elif completed is not None and created is not None:
            bounds.add(min(created, completed) - SECOND, max(created, completed) + SECOND)
        elif completed is not None:
            bounds.add(reference - SECOND, reference + SECOND)
        elif created is not None:
            bounds.add(reference, DATETIME_MAX)


def _visit_journal(child: icalendar.cal.Component, ignore: list[Value], bounds: _Bounds
                   ) -> None:
    dtstart = _value(child, "DTSTART")
    if dtstart is None:
        return
    for start_value in _series(child, dtstart, ignore, bounds):
        start = _aware(start_value)
        bounds.add(start, start + (SECOND if isinstance(start_value, dt.datetime) else DAY))


# -- series: vobject's getrruleset and Radicale's walk over it ------------------------------------

_DATE_AND_RULE_NAMES = ("EXRULE", "RRULE", "RDATE", "EXDATE")


def _series(child: icalendar.cal.Component, dtstart: Value, ignore: list[Value],
            bounds: _Bounds) -> Iterable[Value]:
    """The instance starts of ``child`` minus ``ignore``; just DTSTART without rules. An
    infinite rule records its first instance and stops the walk."""
    if not _has_rules(child):
        return (dtstart,)
    if any(_radicale_infinite(rule) for rule in _props(child, "RRULE")):
        for start in _rule_set(child, dtstart):
            if start not in ignore:
                bounds.infinite(_aware(start))
    return (start for start in _rule_set(child, dtstart) if start not in ignore)


def _has_rules(child: icalendar.cal.Component) -> bool:
    return any(name in child for name in _DATE_AND_RULE_NAMES)


def _radicale_infinite(rule: icalendar.vRecur) -> bool:
    """Radicale's test: no ``;UNTIL=`` and no ``;COUNT=`` in the text (parts after the first)."""
    return not any(key.upper() in ("UNTIL", "COUNT") for key in list(rule.keys())[1:])


def _rule_set(child: icalendar.cal.Component, dtstart: Value) -> dateutil_rrule.rruleset:
    rules = dateutil_rrule.rruleset()
    first = dtstart if isinstance(dtstart, dt.datetime) else \
        dt.datetime.fromordinal(dtstart.toordinal())
    for name in _DATE_AND_RULE_NAMES:
        for prop in _props(child, name):
            if name in ("EXRULE", "RRULE"):
                add_rule = rules.rrule if name == "RRULE" else rules.exrule
                add_rule(_rule(prop, dtstart))
            else:
                add_date = rules.rdate if name == "RDATE" else rules.exdate
                for value in _dates(prop):
                    add_date(value)
            if name == "RRULE":
                _add_dtstart(rules, rules._rrule[-1], first)  # noqa: SLF001 (vobject does so)
            elif name == "RDATE" and rules._rdate:  # noqa: SLF001
                if rules._rdate[0] != first:  # noqa: SLF001
                    rules.rdate(first)
    return rules


def _add_dtstart(rules: dateutil_rrule.rruleset, rule: dateutil_rrule.rrule,
                 first: dt.datetime) -> None:
    """DTSTART is an instance even if the rule does not match it (and then counts in COUNT)."""
    try:
        if rule[0] == first:
            return
    except IndexError:
        return  # a rule with no instance at all
    rules.rdate(first)
    if rule._count is not None:  # noqa: SLF001
        rule._count -= 1  # noqa: SLF001


def _rule(prop: icalendar.vRecur, dtstart: Value) -> dateutil_rrule.rrule:
    """A dateutil rule from DTSTART, UNTIL read as vobject reads it."""
    value = prop.to_ical().decode().replace("\\", "")
    ignoretz = not isinstance(dtstart, dt.datetime) or dtstart.tzinfo is None
    until = _parse_rule(value, ignoretz=ignoretz)._until  # noqa: SLF001
    if until is not None and isinstance(dtstart, dt.datetime) and until.tzinfo != dtstart.tzinfo:
        parts = dict(pair.split("=", 1) for pair in value.upper().split(";"))
        if len(parts.get("UNTIL", "")) == 8:  # a DATE: until the day's DTSTART time
            until = dt.datetime.combine(until.date(), dtstart.time())
        if until.tzinfo is None:
            until = until.replace(tzinfo=dtstart.tzinfo)
        if dtstart.tzinfo is not None:
            until = until.astimezone(dtstart.tzinfo)
        else:
            until = until.replace(tzinfo=None)
    without_until = ";".join(pair for pair in value.split(";")
                             if pair.split("=")[0].upper() != "UNTIL")
    rule = _parse_rule(without_until, dtstart=dtstart, ignoretz=ignoretz)
    rule._until = until  # noqa: SLF001
    return rule


def _parse_rule(value: str, **options: Any) -> dateutil_rrule.rrule:
    rule = dateutil_rrule.rrulestr(value, **options)
    if not isinstance(rule, dateutil_rrule.rrule):
        raise InvalidObject(f"not one recurrence rule: {value!r}")
    return rule


def _dates(prop: Any) -> list[dt.datetime]:
    """An RDATE/EXDATE line as vobject adds it: DATEs at midnight (naive), PERIODs ignored."""
    values = [d.dt for d in prop.dts]
    if not values or isinstance(values[0], tuple):
        return []
    if isinstance(values[0], dt.datetime):
        return list(values)
    return [dt.datetime(v.year, v.month, v.day) for v in values]


def _props(child: icalendar.cal.Component, name: str) -> list[Any]:
    prop = child.get(name)
    if prop is None:
        return []
    return list(prop) if isinstance(prop, list) else [prop]


def _value(component: icalendar.cal.Component, name: str) -> Value | None:
    """The DATE or DATE-TIME of ``name``; None if absent or of another type (a PERIOD)."""
    if name not in component:
        return None
    value = time_value(component, name)
    return value if isinstance(value, dt.date) else None


def _aware(value: Value) -> dt.datetime:
    """Radicale's ``date_to_datetime``: DATEs at midnight UTC, floating read as UTC, a zoned
    time kept in its zone (not ``times.as_utc``: adding a duration is wall-clock time in the
    event's zone, across a DST change too, as Radicale adds it)."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _aware_or_none(value: Value | None) -> dt.datetime | None:
    return None if value is None else _aware(value)

