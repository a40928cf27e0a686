"""How an event writes its times: all-day DATEs, UTC, or wall-clock times in a TZID.

Decisions:
* Times come in as UTC instants. With a time zone they are written as TZID wall-clock times
  (plus a VTIMEZONE), so a weekly 09:00 stays 09:00 local across DST.
* All-day events are DATE values with an exclusive end covering every UTC date the
  [from, to) interval touches.
* RRULE UNTIL takes the form RFC 5545 demands: a DATE for DATE starts, else UTC.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

import icalendar
from icalendar.parser import param_value

from bridge.core.codec import content_line
from bridge.mapping.event_errors import EventMappingError
from bridge.mapping.event_lines import ONE_DAY, date_of


def exclusive_end_day(end: dt.datetime) -> dt.date:
    # an instant after midnight still covers that day
    return end.date() if end.time() == dt.time() else end.date() + ONE_DAY


def zone_named(name: str, field: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise EventMappingError(field, f"{name!r} is not an IANA time zone") from error


def is_utc_name(name: str) -> bool:
    return name.upper() in ("UTC", "Z", "GMT", "ETC/UTC", "ETC/GMT")


@dataclass(frozen=True)
class TimeForm:
    """How an event writes its times: DATE, UTC, or wall-clock time in a TZID."""

    all_day: bool
    tzid: str | None = None
    tzinfo: dt.tzinfo = dt.UTC

    def params(self) -> list[tuple[str, str]]:
        if self.all_day:
            return [("VALUE", "DATE")]
        return [("TZID", param_value(self.tzid))] if self.tzid else []

    def value(self, when: dt.date | dt.datetime, time_of_day: dt.time = dt.time()) -> str:
        if self.all_day:
            day = when.date() if isinstance(when, dt.datetime) else when
            return day.strftime("%Y%m%d")
        if not isinstance(when, dt.datetime):
            when = dt.datetime.combine(when, time_of_day, self.tzinfo)
        elif when.tzinfo is None:
            when = when.replace(tzinfo=self.tzinfo)
        if self.tzid:
            return when.astimezone(self.tzinfo).strftime("%Y%m%dT%H%M%S")
        return when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")

    def until(self, until: dt.date | dt.datetime) -> str:
        """RRULE UNTIL in the form RFC 5545 demands: DATE for DATE starts, else UTC."""
        if self.all_day:
            return (until.date() if isinstance(until, dt.datetime) else until).strftime("%Y%m%d")
        if not isinstance(until, dt.datetime):
            # UNTIL is inclusive: a bare date keeps every occurrence of that local day
            until = dt.datetime.combine(until, dt.time(23, 59, 59), self.tzinfo)
        elif until.tzinfo is None:
            until = until.replace(tzinfo=self.tzinfo)
        return until.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")

    def line(self, newline: str, name: str, when: dt.date | dt.datetime) -> str:
        return content_line(newline, name, self.value(when), self.params())


def vtimezone_text(tzid: str, around: dt.date, newline: str) -> str:
    first = min(dt.date(1970, 1, 1), dt.date(around.year - 1, 1, 1))
    last = max(dt.date(2038, 1, 1), dt.date(around.year + 10, 1, 1))
    try:
        zone = icalendar.Timezone.from_tzid(tzid, first_date=first, last_date=last)
    except Exception as error:  # noqa: BLE001 - any failure means the zone cannot be described
        raise EventMappingError("timeZone", f"{tzid!r} cannot be described: {error}") from error
    text = zone.to_ical().decode()
    return text if newline == "\r\n" else text.replace("\r\n", "\n")



def stored_form(component: icalendar.cal.Component) -> TimeForm:
    """The time form the stored event uses (its DTSTART's)."""
    start = component["DTSTART"]
    value = date_of(start)
    if not isinstance(value, dt.datetime):
        return TimeForm(True)
    tzid = start.params.get("TZID")
    if not tzid or value.tzinfo is None or is_utc_name(str(tzid)):
        return TimeForm(False)
    return TimeForm(False, str(tzid), value.tzinfo)


def wall(value: dt.date | dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The wall-clock time of ``value`` in ``zone`` (a date is its midnight; floating as is)."""
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    return value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value
