"""Expand one stored object into the instances that overlap a window (RFC 4791 9.6.5).

Pure functions over text; recurring-ical-events decides which instances exist, so the
CalDAV expand answer equals what the REST API lists for the same window.
"""

from __future__ import annotations

import datetime as dt

import icalendar
import recurring_ical_events

_RECURRENCE_PROPS = ("RRULE", "RDATE", "EXDATE", "EXRULE")
_TIME_PROPS = ("DTSTART", "DTEND", "RECURRENCE-ID", "DUE")


def expand_instances(
    text: str, start: dt.datetime, end: dt.datetime, component: str = "VEVENT"
) -> list[icalendar.cal.Component]:
    """The instances of the object's ``component`` overlapping [start, end)."""
    cal = icalendar.Calendar.from_ical(text)
    return list(recurring_ical_events.of(cal, components=[component]).between(start, end))


def _as_utc(value: dt.date | dt.datetime) -> dt.date | dt.datetime:
    if not isinstance(value, dt.datetime):
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)  # floating time read as UTC, as Radicale does
    return value.astimezone(dt.UTC)


def expanded_calendar_text(text: str, start: dt.datetime, end: dt.datetime) -> tuple[str, int]:
    """The object as RFC 4791 expanded calendar-data: instances in UTC, no rules, no VTIMEZONE.

    Returns the text and the number of instances (0 means the object has none in the window).
    """
    cal = icalendar.Calendar.from_ical(text)
    instances = list(recurring_ical_events.of(cal, components=["VEVENT"]).between(start, end))
    if not instances:
        return "", 0
    out = icalendar.Calendar()
    for key in ("VERSION", "PRODID", "CALSCALE"):
        if key in cal:
            out.add(key, cal[key])
    recurring = any(k in c for c in cal.walk("VEVENT") for k in ("RRULE", "RDATE"))
    for instance in instances:
        event = icalendar.Event()
        for key, value in instance.property_items(recursive=False):
            if key in ("BEGIN", "END") or key in _RECURRENCE_PROPS:
                continue
            if key in _TIME_PROPS:
                continue
            event.add(key, value, encode=False)
        for key in _TIME_PROPS:
            if key in instance:
                event.add(key, _as_utc(instance[key].dt))
        if recurring and "RECURRENCE-ID" not in event:
            event.add("RECURRENCE-ID", _as_utc(instance["DTSTART"].dt))
        for sub in instance.subcomponents:
            event.add_component(sub)
        out.add_component(event)
    return out.to_ical().decode(), len(instances)
