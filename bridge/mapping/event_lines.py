"""Reading and writing single lines of a stored event through the text codec.

Decisions:
* Addresses compare without ``mailto:`` and in lower case; they are written as given.
* New attendees are invited as required participants whose answer is requested (RSVP=TRUE,
  PARTSTAT=NEEDS-ACTION), as clients do.
* Floating (zone-less) stored times are read as UTC (``bridge.core.times``), as CalDAV does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import icalendar
from icalendar.parser import Contentline

from bridge.core.codec import Block, Document, Item, content_line, escape_text, unfold
from bridge.core.mail_header import check_email
from bridge.core.times import component_end, ical_utc, time_value
from bridge.mapping.event_errors import EventMappingError

ONE_DAY = dt.timedelta(days=1)


def text_line(newline: str, name: str, value: str) -> str:
    return content_line(newline, name, escape_text(value))


def plain_email(value: Any) -> str:
    """A CAL-ADDRESS value or an email without its mailto: prefix, case kept."""
    value = str(value).strip()
    return value[7:] if value.lower().startswith("mailto:") else value


def address(value: Any) -> str:
    """The comparable form of a CAL-ADDRESS value or an email: no mailto:, lower case."""
    return plain_email(value).lower()


def checked_email(value: str, field: str) -> str:
    try:
        return check_email(plain_email(value))
    except ValueError as exc:
        raise EventMappingError(field, str(exc)) from exc


def attendee_line(newline: str, email: str) -> str:
    return content_line(newline, "ATTENDEE", f"mailto:{email}", [
        ("PARTSTAT", "NEEDS-ACTION"), ("RSVP", "TRUE"), ("ROLE", "REQ-PARTICIPANT")])


def item_parts(item: Item) -> tuple[str, icalendar.Parameters, str]:
    return Contentline(unfold(item.raw)).raw_parts()


def item_email(item: Item) -> str:
    try:
        return plain_email(item_parts(item)[2])
    except ValueError:
        return ""


def item_address(item: Item) -> str:
    return item_email(item).lower()


def event_blocks(document: Document) -> list[Block]:
    return document.blocks("VEVENT")


def master_block(document: Document) -> Block:
    """The VEVENT without RECURRENCE-ID (the series, or the single event)."""
    for block in event_blocks(document):
        if not block.props("RECURRENCE-ID"):
            return block
    raise EventMappingError("event", "the stored object has no master VEVENT")


def bump(block: Block, newline: str, now: dt.datetime, sequence: int | None) -> None:
    """DTSTAMP and LAST-MODIFIED set to ``now``; SEQUENCE set unless ``sequence`` is None."""
    stamp = ical_utc(now)
    block.replace({"DTSTAMP"}, [content_line(newline, "DTSTAMP", stamp)], ["UID"])
    block.replace({"LAST-MODIFIED"}, [content_line(newline, "LAST-MODIFIED", stamp)],
                  ["DTSTAMP"])
    if sequence is not None:
        block.replace({"SEQUENCE"}, [f"SEQUENCE:{sequence}{newline}"], ["LAST-MODIFIED"])


# -- parsed values ------------------------------------------------------------------------------


def parsed_master(text: str) -> tuple[icalendar.Calendar, icalendar.cal.Component]:
    calendar = icalendar.Calendar.from_ical(text)
    for event in calendar.walk("VEVENT"):
        if "RECURRENCE-ID" not in event:
            return calendar, event
    raise EventMappingError("event", "the stored object has no master VEVENT")


def date_of(prop: Any) -> dt.date | dt.datetime:
    """The DATE or DATE-TIME value of a parsed property (or the value itself)."""
    value = getattr(prop, "dt", prop)
    if not isinstance(value, dt.date):
        raise EventMappingError("from", f"{value!r} is not a date or date-time")
    return value


def component_times(component: icalendar.cal.Component
                    ) -> tuple[dt.date | dt.datetime, dt.date | dt.datetime]:
    """DTSTART and the end (DTEND, DTSTART + DURATION, or RFC 5545's defaults)."""
    if "DTSTART" not in component:
        raise EventMappingError("from", "the stored event has no DTSTART")
    return time_value(component, "DTSTART"), component_end(component)
