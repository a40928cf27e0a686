"""What a scheduling message does to a local user's calendar (RFC 6638 delivery), and which
recipients the server schedules for (SCHEDULE-AGENT). Pure: the scheduling service finds the
calendars and writes the results.

Decisions:
* SCHEDULE-AGENT (RFC 6638 7.1): the server sends only to attendees whose ATTENDEE line (in the
  new version, or the old one for a removal) has no SCHEDULE-AGENT or SERVER; CLIENT and NONE
  are left alone (Thunderbird marks those it mails itself). A REPLY goes out only when the
  ORGANIZER line leaves it to the server.
* An invitation (REQUEST) becomes the attendee's copy: the organizer's VEVENTs without METHOD
  and without the organizer's alarms; the attendee's own PARTSTAT and alarms of an earlier copy
  are kept unless the time or recurrence changed (then PARTSTAT is NEEDS-ACTION again).
* A CANCEL of the whole event marks the copy STATUS:CANCELLED (clients show it struck through;
  deleting is the attendee's choice); a CANCEL of one instance excludes it (EXDATE, and any
  override of it dropped).
* A REPLY updates the organizer's copy in place, line by line (the organizer's client wrote
  it): the attendee's PARTSTAT, its comment, and SCHEDULE-STATUS=2.0 (delivered), in the master
  or in the override the reply names.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

import icalendar
from icalendar.parser import Contentline

from bridge.core.codec import Document, unfold
from bridge.core.itip import (
    RESPONSE_COMMENT,
    ItipMessage,
    answered_line,
    attendees,
    mail,
    master,
    messages_for,
    reply,
)
from bridge.core.times import time_value

_TIMING = ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE")
_SERVER = "SERVER"


def _agent(params: dict) -> str:
    return str(params.get("SCHEDULE-AGENT", _SERVER)).upper()


def _client_scheduled(calendar: icalendar.Calendar | None) -> set[str]:
    """The attendees of ``calendar`` (lower case) the server must not schedule for."""
    if calendar is None:
        return set()
    found = set()
    for event in calendar.walk("VEVENT"):
        values = event.get("ATTENDEE") or []
        for value in values if isinstance(values, list) else [values]:
            if _agent(value.params) != _SERVER:
                found.add(mail(value).lower())
    return found


def _organizer_agent(calendar: icalendar.Calendar | None) -> str:
    if calendar is None:
        return _SERVER
    organizer = master(calendar).get("ORGANIZER")
    return _agent(organizer.params) if organizer is not None else _SERVER


def server_scheduled(messages: Sequence[ItipMessage], old: icalendar.Calendar | None,
                     new: icalendar.Calendar | None) -> list[ItipMessage]:
    """``messages`` without the recipients the server must leave to the client."""
    skipped = _client_scheduled(old) | _client_scheduled(new)
    kept = []
    for message in messages:
        if message.method == "REPLY":
            if _organizer_agent(new or old) == _SERVER:
                kept.append(message)
            continue
        recipients = tuple(r for r in message.recipients if r.lower() not in skipped)
        if recipients:
            kept.append(ItipMessage(message.method, message.event_uid, message.sender,
                                    recipients, message.subject, message.body_text,
                                    message.calendar_text))
    return kept


def _own_partstat(event: icalendar.cal.Component, attendee: str) -> str | None:
    values = event.get("ATTENDEE") or []
    for value in values if isinstance(values, list) else [values]:
        if mail(value).lower() == attendee.lower():
            return str(value.params.get("PARTSTAT", "NEEDS-ACTION"))
    return None


def _ical(component: icalendar.cal.Component, name: str) -> str:
    """The value of ``name`` as iCalendar text (one form to compare by)."""
    value: Any = component[name]
    text = value.to_ical() if hasattr(value, "to_ical") else str(value)
    return text.decode("utf-8") if isinstance(text, bytes) else str(text)


def _timing(event: icalendar.cal.Component) -> list[str]:
    return [_ical(event, name) for name in _TIMING if name in event]


def attendee_copy(request_text: str, existing: str | None, attendee: str) -> str:
    """The attendee's calendar object after an invitation (a REQUEST's calendar text)."""
    invitation = icalendar.Calendar.from_ical(request_text)
    result = icalendar.Calendar()
    for name, value in invitation.property_items(recursive=False)[1:-1]:
        if name not in ("METHOD",):
            result.add(name, value)
    before = icalendar.Calendar.from_ical(existing) if existing else None
    old_events = {str(e.get("RECURRENCE-ID", "")): e for e in before.walk("VEVENT")} \
        if before else {}
    for component in invitation.subcomponents:
        event = copy.deepcopy(component)
        previous = old_events.get(str(event.get("RECURRENCE-ID", "")))
        if event.name == "VEVENT" and previous is not None:
            kept = _own_partstat(previous, attendee)
            if kept is not None and _timing(previous) == _timing(event):
                _set_partstat(event, attendee, kept)
            for alarm in previous.walk("VALARM"):
                event.add_component(alarm)
        result.add_component(event)
    return result.to_ical().decode("utf-8")


def _set_partstat(event: icalendar.cal.Component, attendee: str, partstat: str) -> None:
    values = event.get("ATTENDEE") or []
    for value in values if isinstance(values, list) else [values]:
        if mail(value).lower() == attendee.lower():
            value.params["PARTSTAT"] = partstat


def cancelled_copy(existing: str, cancel_text: str) -> str:
    """The attendee's copy after a CANCEL: the whole event, or the one instance it names."""
    cancel = master(icalendar.Calendar.from_ical(cancel_text))
    copy_ = icalendar.Calendar.from_ical(existing)
    if "RECURRENCE-ID" not in cancel:
        for event in copy_.walk("VEVENT"):
            event["STATUS"] = "CANCELLED"
        return copy_.to_ical().decode("utf-8")
    key = _ical(cancel, "RECURRENCE-ID")
    copy_.subcomponents = [c for c in copy_.subcomponents if not (
        c.name == "VEVENT" and "RECURRENCE-ID" in c and _ical(c, "RECURRENCE-ID") == key)]
    master(copy_).add("EXDATE", time_value(cancel, "RECURRENCE-ID"))
    return copy_.to_ical().decode("utf-8")


def replied_copy(organizer_text: str, reply_text: str) -> str | None:
    """The organizer's object with the attendee's answer recorded; None when the reply names
    no attendee of it (or an instance it has no override for)."""
    reply = master(icalendar.Calendar.from_ical(reply_text))
    answers = attendees(reply)
    if len(answers) != 1:
        return None
    who = answers[0].lower()
    line = reply["ATTENDEE"][0] if isinstance(reply["ATTENDEE"], list) else reply["ATTENDEE"]
    partstat = str(line.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
    comment = str(reply["COMMENT"]) if "COMMENT" in reply else None
    instance = _ical(reply, "RECURRENCE-ID") if "RECURRENCE-ID" in reply else None
    document = Document.parse(organizer_text)
    touched = False
    for block in document.blocks("VEVENT"):
        own = block.first_value("RECURRENCE-ID")
        if (own or None) != instance:
            continue
        for item in block.props("ATTENDEE"):
            name, params, value = Contentline(unfold(item.raw)).raw_parts()
            if mail(value).lower() != who:
                continue
            if str(params.get("PARTSTAT", "")).upper() == partstat and \
                    params.get(RESPONSE_COMMENT) == comment:
                continue  # already recorded (the organizer's copy was the one answered)
            item.raw = answered_line(document.newline, name, params, value, partstat, comment,
                                     **{"SCHEDULE-STATUS": "2.0"})
            touched = True
    return document.text() if touched else None


def implicit_messages(old: icalendar.Calendar | None, new: icalendar.Calendar | None,
                      actor: str, now: dt.datetime | None = None,
                      reply_on_delete: bool = True) -> list[ItipMessage]:
    """What a calendar user's own write of ``old`` into ``new`` (None: absent) schedules
    (RFC 6638 3.2): as the organizer, what ``messages_for`` decides; as an attendee, only an
    answer (deleting their copy declines, unless ``reply_on_delete`` is off: the
    ``Schedule-Reply: F`` header); anyone else's write (a calendar synced or copied in)
    schedules nothing."""
    either = new if new is not None else old
    if either is None:
        return []
    organizer = master(either).get("ORGANIZER")
    if organizer is None:
        return []
    me = mail(actor).lower()
    if mail(organizer).lower() == me:
        messages = messages_for(old, new, actor, now)
    elif new is None:
        assert old is not None
        if not reply_on_delete or me not in {a.lower() for a in attendees(master(old))}:
            return []
        declined = copy.deepcopy(old)
        for event in declined.walk("VEVENT"):
            _set_partstat(event, actor, "DECLINED")
        messages = [reply(declined, actor, None, now)]
    else:
        messages = [m for m in messages_for(old, new, actor, now) if m.method == "REPLY"]
    return server_scheduled(messages, old, new)


# What an attendee's answer changes (their PARTSTAT and its bookkeeping) or a client stamps:
# not part of the Schedule-Tag (RFC 6638 3.2.10), which changes only with the organizer's data.
_ANSWER_PARAMS = frozenset({"PARTSTAT", "SCHEDULE-STATUS", "RSVP", RESPONSE_COMMENT})
_STAMP_LINES = frozenset({"DTSTAMP", "LAST-MODIFIED"})


def _canonical(raw: str) -> str:
    """One property as its name, sorted parameters (answers left out) and value: the same
    however a client re-serializes it."""
    name, params, value = Contentline(unfold(raw).strip()).raw_parts()
    kept = sorted((key.upper(), str(param)) for key, param in params.items()
                  if key.upper() not in _ANSWER_PARAMS)
    return f"{name.upper()}{kept}:{value}"


def schedule_tag(text: str) -> str | None:
    """The Schedule-Tag of a scheduling object (one with an ORGANIZER), derived from its text:
    the same while only answers (PARTSTAT), alarms and stamps change; None for other objects."""
    document = Document.parse(text)
    blocks = document.blocks("VEVENT") or document.blocks("VTODO")
    if not any(block.props("ORGANIZER") for block in blocks):
        return None
    lines = sorted(
        (block.first_value("RECURRENCE-ID") or "", _canonical(item.raw))
        for block in blocks for item in block.items
        if item.name is not None and item.name not in _STAMP_LINES)  # alarms are nested
    digest = hashlib.sha256(repr(lines).encode("utf-8"))
    return f'"st-{digest.hexdigest()[:24]}"'
