"""The bounds every request lives within, and the errors that say one was reached.

Both doors report the same error: the REST API as 400 problem+json with ``code``, CalDAV as
403 with the RFC 4791 / RFC 4918 precondition element named by ``precondition``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import icalendar
from icalendar.prop import vBroken

from bridge.core.times import as_utc, ical_utc

# The times the store accepts (RFC 4791 C:min-date-time / C:max-date-time): wide enough for any
# calendar, narrow enough that window arithmetic can never leave Python's datetime range. The
# REST models refuse the same years.
MIN_DATE_TIME = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
MAX_DATE_TIME = dt.datetime(2999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Limits:
    """``[limits]`` of the configuration; the defaults follow Radicale 3.9's where it has one."""

    # Instances one object may yield in one expansion (C:max-instances; Radicale's
    # max_expand_occurrence); a finite rule with more is refused on write.
    max_instances: int = 10_000
    # Instances one request may expand in all (Radicale caps a whole report at the same number).
    max_instances_per_request: int = 10_000
    # Longest window of a REST event list and of REST free/busy, in days.
    max_list_days: int = 3660
    max_freebusy_days: int = 366
    # Periods one recurrence rule may be stepped through in one pass (one day of a DAILY rule,
    # one second of a SECONDLY one; about 8 microseconds each): guards every rule evaluation.
    max_recurrence_steps: int = 200_000


class InvalidObject(ValueError):
    """The text is not one valid iCalendar object the store accepts."""


class LimitExceeded(InvalidObject):
    """A bound was reached. ``precondition`` is the CalDAV error element, in the form Radicale's
    ``xmlutils.webdav_error`` takes ("C:max-instances"); ``code`` is the REST problem code."""

    code = "LIMIT_EXCEEDED"
    precondition = "D:number-of-matches-within-limits"


class TooManyInstances(LimitExceeded):
    """One object yields more instances than ``max_instances`` (in a window, or in all)."""

    code = "TOO_MANY_INSTANCES"
    precondition = "C:max-instances"


class RecurrenceTooExpensive(TooManyInstances):
    """A rule would be stepped through more periods than ``max_recurrence_steps``."""


class TooManyMatches(LimitExceeded):
    """One request would expand more than ``max_instances_per_request`` instances."""

    code = "TOO_MANY_INSTANCES"
    precondition = "D:number-of-matches-within-limits"


class WindowTooLarge(LimitExceeded):
    code = "WINDOW_TOO_LARGE"


class OutsideDateRange(LimitExceeded):
    """A time before MIN_DATE_TIME or after MAX_DATE_TIME."""

    code = "VALIDATION_ERROR"

    def __init__(self, message: str, too_early: bool) -> None:
        super().__init__(message)
        self.precondition = "C:min-date-time" if too_early else "C:max-date-time"


# The iCalendar UTC text of the bounds for the Radicale adapter (times.ical_utc under its old
# name; callers may import ical_utc instead).
caldav_time = ical_utc


def _times(value: Any) -> Iterator[dt.date | dt.datetime]:
    """Every date or date-time inside one property value (lists, periods, UNTIL)."""
    if isinstance(value, vBroken):
        return  # a value icalendar could not read holds no time (Radicale judges the text)
    if isinstance(value, list):
        for item in value:
            yield from _times(item)
    elif isinstance(value, icalendar.vRecur):
        yield from _times(value.get("UNTIL", []))
    elif isinstance(value, dt.date):  # datetime is a date too
        yield value
    elif isinstance(value, tuple):
        yield from (v for v in value if isinstance(v, dt.date))
    elif hasattr(value, "dts"):
        yield from _times([d.dt for d in value.dts])
    elif hasattr(value, "dt"):
        yield from _times(value.dt)


def check_dates(cal: icalendar.Calendar) -> None:
    """Refuse a DATE or DATE-TIME value outside [MIN_DATE_TIME, MAX_DATE_TIME] in any component
    but VTIMEZONE (whose rules start in 1601 or 1970 by convention)."""

    def walk(component: icalendar.cal.Component) -> None:
        if component.name == "VTIMEZONE":
            return
        for name, value in component.property_items(recursive=False):
            for moment in _times(value):
                try:
                    instant = as_utc(moment)
                except (OverflowError, ValueError):  # year 1 with a positive offset
                    instant = MIN_DATE_TIME - dt.timedelta(days=1)
                if instant < MIN_DATE_TIME or instant > MAX_DATE_TIME:
                    raise OutsideDateRange(
                        f"{name} {moment} lies outside {MIN_DATE_TIME.year}-"
                        f"{MAX_DATE_TIME.year}", too_early=instant < MIN_DATE_TIME)
        for sub in component.subcomponents:
            walk(sub)

    for component in cal.subcomponents:
        walk(component)
