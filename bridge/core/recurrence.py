"""Bounded expansion of recurring components (calendar core: no Flask, no SQL, no Radicale).

recurring-ical-events decides which instances exist, so every door agrees; this module bounds
what asking it costs:

- A rule's instances after a point do not depend on how many whole periods before that point
  it started, so each query re-anchors the rules (without COUNT) at their last whole period
  before the window: a window next week of a MINUTELY series that began years ago costs next
  week only, never the minutes in between.
- Callers say how many instances they accept; the iteration stops at one more.
- A rule whose filters can never match (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) makes dateutil
  step to the year 9999 looking for one; such rules are refused on write and skipped on read.
- As the last guard, one pass of any dateutil rule (Radicale's own included) may step through
  at most ``max_recurrence_steps`` periods (see ``install_step_cap``).
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import itertools
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import icalendar
import recurring_ical_events
from dateutil import rrule as dateutil_rrule

from bridge.core.limits import (
    InvalidObject,
    LimitExceeded,
    RecurrenceTooExpensive,
    TooManyInstances,
)
from bridge.core.times import UTC, as_utc, component_end, instance_key, time_value

_FIXED_PERIODS = {
    dateutil_rrule.WEEKLY: dt.timedelta(weeks=1),
    dateutil_rrule.DAILY: dt.timedelta(days=1),
    dateutil_rrule.HOURLY: dt.timedelta(hours=1),
    dateutil_rrule.MINUTELY: dt.timedelta(minutes=1),
    dateutil_rrule.SECONDLY: dt.timedelta(seconds=1),
}
# Re-anchored rules start this much before the window's wall-clock time, so that a DST fold
# (the one wall-clock hour that happens twice) can never move the anchor past the window.
_ANCHOR_MARGIN = dt.timedelta(hours=2)
# The probe for rules that never match looks at 9972-9999: 28 years without a century year
# hold every combination of leap year and weekday of 1 January.
_PROBE_YEAR = 9972


# -- the step cap ------------------------------------------------------------------------------

_step_cap = [200_000]
_installed = threading.Lock()


def _counted(method: Any) -> Any:
    def counted(self: Any, *args: Any) -> Any:
        self.step()
        return method(self, *args)
    return counted


def install_step_cap(max_steps: int) -> None:
    """Cap every pass of a dateutil rule in this process at ``max_steps`` periods.

    dateutil steps a rule period by period (a day of a DAILY rule, a second of a SECONDLY one)
    and yields only the periods its filters accept; a rule that matches rarely or never is
    stepped through to the year 9999 with nothing to show. Its ``_iterinfo`` builds the day
    set of every period, so counting those calls counts the work. Rules built with a cache
    (recurring-ical-events' own) are left alone: an error inside dateutil's cached iteration
    would leave its lock held; this module never iterates them.
    """
    _step_cap[0] = max_steps
    base = getattr(dateutil_rrule, "_iterinfo", None)
    with _installed:
        if base is None or getattr(base, "calbridge_capped", False):
            return

        class CappedIterInfo(base):  # type: ignore[misc, valid-type]
            # No __slots__ of its own: the base's __init__ walks self.__slots__ to reset them.
            calbridge_capped = True

            def __init__(self, rule: dateutil_rrule.rrule) -> None:
                super().__init__(rule)
                self.steps = 0
                self.capped = getattr(rule, "_cache", None) is None

            def step(self) -> None:
                self.steps += 1
                if self.capped and self.steps > _step_cap[0]:
                    raise RecurrenceTooExpensive(
                        f"a recurrence rule needs more than {_step_cap[0]} steps to expand")

        # dateutil calls one of these per period it walks: each call is one step.
        for name in ("ydayset", "mdayset", "wdayset", "ddayset"):
            setattr(CappedIterInfo, name, _counted(getattr(base, name)))
        dateutil_rrule._iterinfo = CappedIterInfo


install_step_cap(_step_cap[0])


def step_cap() -> int:
    """The cap ``install_step_cap`` set last."""
    return _step_cap[0]


# -- re-anchoring --------------------------------------------------------------------------------

def _anchor_point(rule: dateutil_rrule.rrule, wall: dt.datetime) -> dt.datetime | None:
    """The latest start of a whole number of the rule's periods after its DTSTART that lies
    at or before the naive wall-clock time ``wall`` (None: no such point after DTSTART)."""
    first = rule._dtstart.replace(tzinfo=None)
    if wall <= first:
        return None
    interval = rule._interval
    period = _FIXED_PERIODS.get(rule._freq)
    if period is not None:
        steps = (wall - first) // (period * interval)
        return first + steps * period * interval if steps > 0 else None
    if rule._freq == dateutil_rrule.MONTHLY:
        count = ((wall.year - first.year) * 12 + wall.month - first.month) // interval
        for k in range(count, max(count - 12, 0), -1):  # a month without DTSTART's day: earlier
            month = first.month - 1 + k * interval
            try:
                point = first.replace(year=first.year + month // 12, month=month % 12 + 1)
            except ValueError:
                continue
            if point <= wall:
                return point
        return None
    count = (wall.year - first.year) // interval  # YEARLY
    for k in range(count, max(count - 8, 0), -1):  # 29 February: an earlier leap year
        try:
            point = first.replace(year=first.year + k * interval)
        except ValueError:
            continue
        if point <= wall:
            return point
    return None


def _uncached(rule: dateutil_rrule.rrule, **changes: Any) -> dateutil_rrule.rrule:
    """A copy of ``rule`` without dateutil's cache, keeping recurring-ical-events' attributes."""
    new = rule.replace(cache=False, **changes)
    for name in ("until", "string"):  # set by recurring-ical-events on its rules
        if hasattr(rule, name):
            setattr(new, name, getattr(rule, name))
    return new


def anchor_rule(rule: dateutil_rrule.rrule, wall: dt.datetime) -> dateutil_rrule.rrule:
    """``rule`` restarted at its last whole period before ``wall`` (same instances from there
    on), or an uncached copy of it when it counts (COUNT) or starts later."""
    point = _anchor_point(rule, wall) if rule._count is None else None
    if point is None:
        return _uncached(rule)
    return _uncached(rule, dtstart=point.replace(tzinfo=rule._dtstart.tzinfo))


def is_barren(rule: dateutil_rrule.rrule) -> bool:
    """Whether the rule, continued without COUNT and UNTIL, yields no instance in the 28 years
    before 10000: its filters can never match (a monthly 31 February, a weekly 30 February).
    Only rules whose period is at most a year are probed (longer ones step cheaply anyway)."""
    period = _FIXED_PERIODS.get(rule._freq)
    if period is not None:
        probed = period * rule._interval <= dt.timedelta(days=366)
    else:
        probed = rule._interval <= (12 if rule._freq == dateutil_rrule.MONTHLY else 1)
    if not probed:
        return False
    point = _anchor_point(rule, dt.datetime(_PROBE_YEAR, 1, 1))
    if point is None or point.year < _PROBE_YEAR - 1:
        return False
    probe = _uncached(rule, dtstart=point.replace(tzinfo=rule._dtstart.tzinfo), count=None,
                      until=None)
    try:
        return next(iter(probe), None) is None
    except OverflowError:  # a time zone conversion at the end of the calendar
        return False


# -- series --------------------------------------------------------------------------------------

def _all_series(cal: icalendar.Calendar, component: str) -> list[Any]:
    """recurring-ical-events' series of ``component``; InvalidObject for rules it cannot read."""
    try:
        return list(recurring_ical_events.of(cal, components=[component]).series)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise InvalidObject(f"recurrence cannot be expanded: {exc}") from exc


def series_of(cal: icalendar.Calendar, component: str = "VEVENT") -> list[Any]:
    """The series of ``component`` in ``cal`` to expand: rules that can never match left out
    (dateutil would step them to the year 9999 looking for an instance)."""
    return [_without_barren_rules(s) for s in _all_series(cal, component)]


def _rules(series: Any) -> list[dateutil_rrule.rrule]:
    """The dateutil rules of a series (after its RDATE set), or [] without any."""
    rules = getattr(series.recurrence, "rrules", None)
    return list(rules[1:]) if rules else []


def _with_rules(series: Any, rules: list[dateutil_rrule.rrule]) -> Any:
    recurrence = copy.copy(series.recurrence)
    recurrence.rrules = [series.recurrence.rrules[0], *rules]
    clone = copy.copy(series)
    clone.recurrence = recurrence
    return clone


def _without_barren_rules(series: Any) -> Any:
    rules = _rules(series)
    kept = [r for r in rules if not is_barren(r)]
    return series if len(kept) == len(rules) else _with_rules(series, kept)


class _LazyRule:
    """A dateutil rule whose ``between`` yields as it steps (dateutil's builds the whole list
    first), so that a caller who stops after enough instances stops the stepping too. Offers
    what recurring-ical-events uses of its rules: ``between`` and ``until``."""

    def __init__(self, rule: dateutil_rrule.rrule) -> None:
        self.rule = rule
        self.until = getattr(rule, "until", None)
        self.string = getattr(rule, "string", "")

    def between(self, after: dt.datetime, before: dt.datetime, inc: bool = False,
                count: int = 1) -> Iterator[dt.datetime]:
        for value in self.rule:
            if value > before or (value == before and not inc):
                return
            if value > after or (value == after and inc):
                yield value


def _anchored_series(series: Any, start: dt.datetime) -> Any:
    """The series with its rules re-anchored for a window that starts at ``start`` (UTC),
    each stepping only as far as its caller reads."""
    rules = _rules(series)
    if not rules:
        return series
    reach = getattr(series, "_subtract_from_start", None)
    zone = getattr(series.recurrence, "tzinfo", None)
    try:
        wall = (start - reach).astimezone(zone or UTC).replace(tzinfo=None) - _ANCHOR_MARGIN \
            if isinstance(reach, dt.timedelta) else None
    except OverflowError:
        wall = None
    return _with_rules(series, [
        _LazyRule(anchor_rule(r, wall) if wall is not None else _uncached(r)) for r in rules])


@dataclass(frozen=True)
class Instance:
    """One instance of an object: times in UTC, and where its component comes from."""

    start: dt.datetime
    end: dt.datetime  # exclusive; equal to start for a zero-length instance
    occurrence: Any = None  # recurring-ical-events' occurrence, None for a single event
    single: icalendar.cal.Component | None = None  # the stored VEVENT of a single event

    @functools.cached_property
    def key(self) -> str:
        """The original start (RECURRENCE-ID) in UTC: tells apart instances of one object
        that start together (computed on demand: it costs a third of an expansion)."""
        if self.single is not None:
            return instance_key(time_value(self.single, "DTSTART"))
        return instance_key(self.occurrence.id.recurrence_id or self.occurrence.start)

    def component(self) -> icalendar.cal.Component:
        """The instance as a component: a new copy for a recurrence (recurring-ical-events
        copies its source), the stored, shared one for a single event (read, never change)."""
        if self.single is not None:
            return self.single
        return self.occurrence.as_component(False)

    @property
    def source(self) -> icalendar.cal.Component:
        """The stored component this instance comes from (the series or its override): read
        its properties without the cost of a copy; never change it."""
        if self.single is not None:
            return self.single
        return self.occurrence._adapter._component


def single_instance(component: icalendar.cal.Component) -> Instance:
    """The one instance of a non-recurring event (RFC 4791 9.9 ends: DTEND, DURATION, or a
    day for a date, zero for a date-time)."""
    start = as_utc(time_value(component, "DTSTART"))
    return Instance(start, max(as_utc(component_end(component)), start), single=component)


def overlaps(instance: Instance, start: dt.datetime, end: dt.datetime) -> bool:
    """RFC 4791 9.9 overlap: a zero-length instance counts at its start."""
    return instance.start < end and \
        max(instance.end, instance.start + dt.timedelta(seconds=1)) > start


def _instance(occurrence: Any) -> Instance:
    start = as_utc(occurrence.start)
    end = as_utc(occurrence.end) if occurrence.end is not None else start
    return Instance(start, max(end, start), occurrence=occurrence)


def instances(series: Iterable[Any], start: dt.date | dt.datetime,
              end: dt.date | dt.datetime, limit: int) -> list[Instance]:
    """The instances overlapping [start, end) of the series (any order), at most ``limit`` + 1
    of them: a caller that gets more than ``limit`` knows there are more."""
    out: list[Instance] = []
    for one in series:
        anchored_series = _anchored_series(one, as_utc(start))
        try:
            for occurrence in anchored_series.between(start, end):
                out.append(_instance(occurrence))
                if len(out) > limit:
                    return out
        except LimitExceeded:
            raise
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidObject(f"recurrence cannot be expanded: {exc}") from exc
    return out


def bounded_instances(series: Iterable[Any], start: dt.datetime, end: dt.datetime,
                      max_instances: int) -> list[Instance]:
    """The instances overlapping [start, end), sorted by start; TooManyInstances past the cap."""
    found = instances(series, start, end, max_instances)
    if len(found) > max_instances:
        raise TooManyInstances(
            f"one object has more than {max_instances} instances between "
            f"{start.isoformat()} and {end.isoformat()}")
    found.sort(key=lambda i: i.start)
    return found


# -- write-time checks ---------------------------------------------------------------------------

def check_rules(cal: icalendar.Calendar, max_instances: int) -> None:
    """Refuse a rule that never yields an instance (InvalidObject) and a finite rule (COUNT or
    UNTIL) with more than ``max_instances`` instances (TooManyInstances)."""
    for name in ("VEVENT", "VTODO", "VJOURNAL"):
        if not any("RRULE" in c for c in cal.walk(name)):
            continue
        try:
            all_series = _all_series(cal, name)
        except InvalidObject:
            if name == "VEVENT":
                raise
            continue  # to-dos and journals are Radicale's to read (a DUE without DTSTART...)
        for series in all_series:
            for rule in _rules(series):
                if is_barren(rule):
                    raise InvalidObject(f"the recurrence rule {_text(rule)} never yields an "
                                        "instance")
                if rule._count is None and rule._until is None:
                    continue
                if rule._count is not None and rule._count > max_instances:
                    raise TooManyInstances(f"the recurrence rule {_text(rule)} has more than "
                                           f"{max_instances} instances")
                counted = sum(1 for _ in itertools.islice(_uncached(rule), max_instances + 1))
                if counted > max_instances:
                    raise TooManyInstances(f"the recurrence rule {_text(rule)} has more than "
                                           f"{max_instances} instances")



def _text(rule: dateutil_rrule.rrule) -> str:
    return str(getattr(rule, "string", "") or rule).replace("\n", " ")[:200]
