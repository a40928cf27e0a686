"""Calendar JSON fields <-> the collection's CalDAV properties (pure functions).

A calendar's name, description, color and timezone are the very properties CalDAV clients
read and PROPPATCH, so the API and Apple Calendar or Thunderbird always show the same data.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass

import icalendar

NAME = "D:displayname"
DESCRIPTION = "C:calendar-description"
COLOR = "ICAL:calendar-color"
TIMEZONE = "C:calendar-timezone"          # RFC 4791: a VCALENDAR holding one VTIMEZONE
TIMEZONE_ID = "C:calendar-timezone-id"    # RFC 7809: the IANA name
COMPONENTS = "C:supported-calendar-component-set"

_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$")


@dataclass(frozen=True)
class CalendarFields:
    name: str
    description: str | None
    color: str | None
    timezone: str | None


def is_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def vtimezone_calendar(tzid: str) -> str:
    cal = icalendar.Calendar()
    cal.add("PRODID", "-//calbridge//EN")
    cal.add("VERSION", "2.0")
    cal.add_component(icalendar.Timezone.from_tzid(tzid))
    return cal.to_ical().decode()


def timezone_from_props(props: Mapping[str, str]) -> str | None:
    if props.get(TIMEZONE_ID):
        return props[TIMEZONE_ID]
    text = props.get(TIMEZONE)
    if not text:
        return None
    try:
        zones = icalendar.Calendar.from_ical(text).walk("VTIMEZONE")
    except ValueError:
        return None
    return str(zones[0]["TZID"]) if zones and "TZID" in zones[0] else None


def fields_from_props(props: Mapping[str, str], fallback_name: str) -> CalendarFields:
    color = props.get(COLOR) or None
    if color and _COLOR.match(color):
        color = color[:7].upper()  # Apple writes #RRGGBBAA
    return CalendarFields(
        name=props.get(NAME) or fallback_name,
        description=props.get(DESCRIPTION) or None,
        color=color,
        timezone=timezone_from_props(props),
    )


def props_with_fields(props: Mapping[str, str], *, name: str | None = None,
                      description: str | None = None, color: str | None = None,
                      timezone: str | None = None, clear: frozenset[str] = frozenset()
                      ) -> dict[str, str]:
    """The collection properties after setting the given fields (None = unchanged) and
    removing those named in ``clear``; every other property (a client's own) is kept."""
    out = dict(props)
    out.setdefault("tag", "VCALENDAR")
    out.setdefault(COMPONENTS, "VEVENT,VTODO")
    for field, key in (("description", DESCRIPTION), ("color", COLOR)):
        if field in clear:
            out.pop(key, None)
    if "timezone" in clear:
        out.pop(TIMEZONE, None)
        out.pop(TIMEZONE_ID, None)
    if name is not None:
        out[NAME] = name
    if description is not None:
        out[DESCRIPTION] = description
    if color is not None:
        out[COLOR] = color.upper()
    if timezone is not None:
        out[TIMEZONE] = vtimezone_calendar(timezone)
        out[TIMEZONE_ID] = timezone
    return out
