"""The one time module: instants, their UTC readings and the text forms every door writes.

Decisions:
- An instant is stored as whole seconds since the epoch (``int``), as the schema keeps it.
- Floating times (no ``tzinfo``) are read as UTC, as Radicale and the API's inputs do.
- A DATE taken as an instant is midnight UTC (``as_utc``); ``as_utc_keep_dates`` leaves dates
  alone for the places where an all-day value must stay a DATE.
- JSON carries RFC 3339 with a ``Z``; iCalendar carries ``YYYYMMDDTHHMMSSZ``; HTTP headers carry
  the IMF-fixdate of RFC 9110. An instance key is that UTC text, or ``YYYYMMDD`` for a date.
- icalendar types ``component[name]`` as any kind of property, so reading the date, date-time
  or duration of a time property is narrowed here, once (``time_value``, ``duration_value``,
  ``component_end``); the values are what ``.dt`` holds, unchanged.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from icalendar.cal.component import Component

UTC = dt.UTC


def now_ts() -> int:
    """The current instant in whole seconds."""
    return int(time.time())


def from_ts(timestamp: int) -> dt.datetime:
    """The aware UTC datetime of a stored instant."""
    return dt.datetime.fromtimestamp(timestamp, UTC)


def to_ts(value: dt.date | dt.datetime) -> int:
    """The stored instant of a datetime (floating read as UTC; a date is midnight UTC)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return int(value.timestamp())  # not via UTC: year 1 and 9999 must not overflow
    return int(as_utc(value).timestamp())


def as_utc(value: dt.date | dt.datetime) -> dt.datetime:
    """An instant: dates are midnight UTC, floating times are read as UTC."""
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def as_utc_keep_dates(value: dt.date | dt.datetime) -> dt.date | dt.datetime:
    """``as_utc`` for datetimes; a DATE stays a DATE (all-day values are not instants)."""
    if not isinstance(value, dt.datetime):
        return value
    return as_utc(value)


def iso_z(value: dt.datetime | int) -> str:
    """RFC 3339 in UTC with a ``Z`` and whole seconds, from a datetime or a stored instant."""
    instant = from_ts(value) if isinstance(value, int) else as_utc(value)
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_z_or_none(timestamp: int | None) -> str | None:
    return None if timestamp is None else iso_z(timestamp)


def ical_utc(value: dt.date | dt.datetime) -> str:
    """An instant as iCalendar UTC text (``20260101T090000Z``)."""
    return as_utc(value).strftime("%Y%m%dT%H%M%SZ")


def instance_key(value: dt.date | dt.datetime) -> str:
    """An instance's original start: ``ical_utc`` for a date-time, ``YYYYMMDD`` for a date."""
    if isinstance(value, dt.datetime):
        return ical_utc(value)
    return value.strftime("%Y%m%d")


def http_date(timestamp: int) -> str:
    """The IMF-fixdate of RFC 9110 (``Wed, 02 Dec 2026 15:53:28 GMT``)."""
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(timestamp))


# -- time values of iCalendar components ----------------------------------------------------------

def time_value(component: Component, name: str) -> dt.date | dt.datetime:
    """The date or date-time of the DATE/DATE-TIME property ``name`` (KeyError if absent)."""
    prop: Any = component[name]  # icalendar types it as any property; time ones carry .dt
    value: dt.date | dt.datetime = prop.dt
    return value


def duration_value(component: Component, name: str = "DURATION") -> dt.timedelta:
    """The duration of the DURATION property ``name`` (KeyError if absent)."""
    prop: Any = component[name]  # icalendar types it as any property; DURATION carries .dt
    value: dt.timedelta = prop.dt
    return value


def component_end(component: Component) -> dt.date | dt.datetime:
    """The exclusive end of a component with a DTSTART (RFC 4791 9.9): DTEND, DTSTART +
    DURATION, else a day after a date and the start itself for a date-time."""
    start = time_value(component, "DTSTART")
    if "DTEND" in component:
        return time_value(component, "DTEND")
    if "DURATION" in component:
        return start + duration_value(component)
    return start if isinstance(start, dt.datetime) else start + dt.timedelta(days=1)
