"""Event JSON fields <-> the stored iCalendar text (pure functions: no I/O, Flask or database).

The REST API and CalDAV clients edit the same objects, so a write here touches only the lines it
means to change. ``patch_event_text`` and ``respond_text`` rewrite the named properties of the
VEVENT line by line; every other line (alarms, overridden instances, X- and unknown properties,
VTIMEZONEs, the calendar's own properties, the folding) stays byte-for-byte as the client wrote
it. Nothing is re-serialized through icalendar, which would reorder and refold the object.

Public API
----------
``EventInput``, ``EventPatch`` (``UNSET`` marks a field not given), ``PatchResult``.
    Instants may be aware (any zone) or naive (read as UTC).
``EventMappingError(field, message)``: bad input; ``field`` is the JSON field name ("summary",
    "from", "to", "timeZone", "attendees", "addAttendees", "removeAttendees", "recurrence").
``NotAnAttendee``, ``OrganizerCannotRespond``: refusals of ``respond_text`` (``.code`` holds the
    seed's NOT_AN_ATTENDEE / CANNOT_RSVP_AS_ORGANIZER).
``new_event_text(data, uid, organizer_email, now) -> str``: a new VCALENDAR with one VEVENT.
``patch_event_text(text, patch, now, organizer_email=None) -> PatchResult``: partial update.
``respond_text(text, attendee_email, status, comment, now) -> str``: an attendee's answer.
``event_json(text, *, event_id, calendar_id, etag, instance=None, viewer_email=None,
    time_zone=None, created=None, updated=None, calendar=None) -> dict``: the read shape.
``event_window(text) -> (start_utc, end_utc)``: the master's first occurrence, for timeframes.
``instance_id(series_id, recurrence_id) -> str``, ``parse_instance_id(id) -> (series, key)``,
    ``instance_key(recurrence_id) -> str`` ("20270315T130000Z" or "20260210").
``find_instance(text, key) -> icalendar.Event | None``: one instance of a series, expanded.
``check_recurrence(lines)``: validates recurrence input early (raises EventMappingError).

Decisions
---------
* Times come in as UTC instants. With a time zone they are written as TZID wall-clock times
  (plus a VTIMEZONE), so a weekly 09:00 stays 09:00 local across DST. All-day events are DATE
  values with an exclusive end covering every UTC date the [from, to) interval touches.
* ORGANIZER is written only when the event has attendees: RFC 5545 asks for it on
  group-scheduled events only, and clients read an ORGANIZER as "this is a meeting". Adding the
  first attendee in a patch adds it; removing the last attendee removes it.
* Moving a series' start moves its UNTIL, EXDATE and RDATE values by the same wall-clock offset
  (an excluded instance stays excluded) and gives them DTSTART's value type. Overridden
  instances (RECURRENCE-ID) are never rewritten by a patch.
* The event type is the ``X-CALBRIDGE-EVENT-TYPE`` property: clients keep X- properties they
  do not know, and it stays out of CATEGORIES, which users edit.
* A response sets PARTSTAT and keeps RSVP as it was: RSVP is the organizer's request for an
  answer, and PARTSTAT already says whether the answer came.
* The response comment is the ``X-RESPONSE-COMMENT`` parameter of the attendee's own ATTENDEE
  line (always quoted, RFC 6868 escaped; JSCalendar ``participationComment``): it stays with its
  attendee, and several attendees' comments do not collide as they would in one COMMENT
  property. A response without a comment clears the old one.
* A patch that changes nothing returns the text unchanged (empty ``changed``); any change bumps
  SEQUENCE and rewrites DTSTAMP and LAST-MODIFIED, as does a response (which does not touch
  SEQUENCE: a reply does not revise the event, RFC 5546 2.1.4).
* Floating (zone-less) stored times are read as UTC, as the CalDAV side does.

Modules: ``event_values`` (inputs, results), ``event_errors`` (refusals), ``event_lines``
(single lines through ``bridge.core.codec``), ``event_times``, ``event_recurrence``,
``event_patch`` and ``event_read``; this module writes new events and responses and names the
public API (import from here).
"""

from __future__ import annotations

import datetime as dt

from bridge.core.codec import Document, content_line
from bridge.core.itip import RESPONSE_COMMENT, answered_line
from bridge.core.times import as_utc, ical_utc
from bridge.mapping.event_errors import EventMappingError, NotAnAttendee, OrganizerCannotRespond
from bridge.mapping.event_lines import (
    ONE_DAY,
    address,
    attendee_line,
    bump,
    checked_email,
    event_blocks,
    item_address,
    item_parts,
    master_block,
    text_line,
)
from bridge.mapping.event_patch import patch_event_text
from bridge.mapping.event_read import (
    event_json,
    event_window,
    find_instance,
    instance_id,
    instance_key,
    parse_instance_id,
)
from bridge.mapping.event_recurrence import check_recurrence, recurrences
from bridge.mapping.event_times import (
    TimeForm,
    exclusive_end_day,
    is_utc_name,
    vtimezone_text,
    zone_named,
)
from bridge.mapping.event_values import (
    EVENT_TYPE,
    PARTSTAT,
    PRODID,
    RECURRENCE_PROPERTIES,
    UNSET,
    EventInput,
    EventPatch,
    PatchResult,
    ResponseStatus,
    Unset,
)

__all__ = [
    "EVENT_TYPE", "PRODID", "RECURRENCE_PROPERTIES", "RESPONSE_COMMENT", "UNSET", "EventInput",
    "EventMappingError", "EventPatch", "NotAnAttendee", "OrganizerCannotRespond", "PatchResult",
    "ResponseStatus", "Unset", "check_recurrence", "event_json", "event_window",
    "find_instance", "instance_id", "instance_key", "new_event_text", "parse_instance_id",
    "patch_event_text", "respond_text",
]


# -- create ---------------------------------------------------------------------------------


def _time_values(data: EventInput, newline: str
                 ) -> tuple[TimeForm, dt.date | dt.datetime, dt.date | dt.datetime, str]:
    """(time form, DTSTART value, DTEND value, VTIMEZONE text or "") of a new event."""
    start, end = as_utc(data.start), as_utc(data.end)
    if data.all_day:
        if end < start:
            raise EventMappingError("to", "must not be before from")
        first_day = start.date()
        return TimeForm(True), first_day, max(exclusive_end_day(end), first_day + ONE_DAY), ""
    if end <= start:
        raise EventMappingError("to", "must be after from")
    if data.time_zone and not is_utc_name(data.time_zone):
        form = TimeForm(False, data.time_zone, zone_named(data.time_zone, "timeZone"))
        return form, start, end, vtimezone_text(data.time_zone, start.date(), newline)
    return TimeForm(False), start, end, ""


def new_event_text(data: EventInput, uid: str, organizer_email: str, now: dt.datetime) -> str:
    """A complete VCALENDAR holding one VEVENT made of ``data`` (CRLF lines, folded)."""
    newline = "\r\n"
    form, start_value, end_value, vtimezone = _time_values(data, newline)
    rules = recurrences(data.recurrence)
    time_of_day = as_utc(data.start).astimezone(form.tzinfo).time()
    attendees: dict[str, str] = {}
    for email in data.attendees:
        attendees.setdefault(address(email), checked_email(email, "attendees"))
    stamp = ical_utc(now)

    lines = ["BEGIN:VCALENDAR" + newline, "VERSION:2.0" + newline,
             content_line(newline, "PRODID", PRODID), "CALSCALE:GREGORIAN" + newline,
             vtimezone, "BEGIN:VEVENT" + newline, text_line(newline, "UID", uid),
             content_line(newline, "DTSTAMP", stamp), content_line(newline, "CREATED", stamp),
             content_line(newline, "LAST-MODIFIED", stamp), "SEQUENCE:0" + newline,
             form.line(newline, "DTSTART", start_value), form.line(newline, "DTEND", end_value)]
    lines += [item.line(newline, form, time_of_day) for item in rules]
    lines.append(text_line(newline, "SUMMARY", data.summary))
    if data.description:
        lines.append(text_line(newline, "DESCRIPTION", data.description))
    if data.location:
        lines.append(text_line(newline, "LOCATION", data.location))
    if attendees:
        lines.append(content_line(newline, "ORGANIZER",
                                  f"mailto:{checked_email(organizer_email, 'organizer')}"))
        lines += [attendee_line(newline, email) for email in attendees.values()]
    if data.event_type:
        lines.append(text_line(newline, EVENT_TYPE, data.event_type))
    lines += ["STATUS:CONFIRMED" + newline, "TRANSP:OPAQUE" + newline,
              "END:VEVENT" + newline, "END:VCALENDAR" + newline]
    return "".join(lines)


# -- respond --------------------------------------------------------------------------------


def respond_text(text: str, attendee_email: str, status: ResponseStatus, comment: str | None,
                 now: dt.datetime) -> str:
    """Records an attendee's answer: PARTSTAT on their ATTENDEE line in the master and every
    override naming them, the comment as X-RESPONSE-COMMENT (cleared when None), DTSTAMP and
    LAST-MODIFIED rewritten in those VEVENTs; SEQUENCE and RSVP are kept."""
    if status not in PARTSTAT:
        raise EventMappingError("status", f"{status!r} is not accepted, declined or tentative")
    document = Document.parse(text)
    master_block(document)
    wanted = address(attendee_email)
    for block in event_blocks(document):
        if any(item_address(item) == wanted for item in block.props("ORGANIZER")):
            raise OrganizerCannotRespond(f"{attendee_email} organizes this event")
    touched = False
    for block in event_blocks(document):
        block_touched = False
        for item in block.props("ATTENDEE"):
            if item_address(item) != wanted:
                continue
            name, params, value = item_parts(item)
            item.raw = answered_line(document.newline, name, params, value, PARTSTAT[status],
                                     comment)
            block_touched = True
        if block_touched:
            bump(block, document.newline, now, None)
            touched = True
    if not touched:
        raise NotAnAttendee(f"{attendee_email} is not an attendee of this event")
    return document.text()
