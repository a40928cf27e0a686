"""iTIP (RFC 5546) decisions and messages for an event: who gets a REQUEST, a CANCEL or a REPLY
when an event is created, changed, answered or deleted. Pure: the caller queues the messages
(an outbox) and delivers them (iMIP, RFC 6047).

Decisions:
* ``messages_for(old, new, actor)`` decides from the two parsed versions alone, so that either
  door (REST, CalDAV) can schedule through it. ``actor`` is the user making the change; they
  never get a message of their own.
* A change that touches only the actor's own ATTENDEE line (and DTSTAMP or LAST-MODIFIED) of an
  event organized by someone else is an answer: a REPLY to the organizer, with the comment of
  the actor's X-RESPONSE-COMMENT parameter.
* Any other change is the actor rescheduling: a new title, place, time or recurrence sends
  the whole event (REQUEST) to every attendee, otherwise only the attendees just added get it;
  the removed attendees get a CANCEL of the old version. A change of anything else (a
  description, an alarm) sends nothing. Deleting sends every attendee a CANCEL.
* Addresses compare case-insensitively without ``mailto:``; each attendee is addressed once.
* REQUESTs carry every VEVENT of the object but no VALARM (the organizer's reminders);
  CANCEL and REPLY carry the master's identifying properties only.
* One instance of a series is decided as an event of its own (``instance_calendar``): its
  messages carry its RECURRENCE-ID (RFC 5546 3.2.2.1, 3.2.5, 3.2.3).
* A series whose only change is new EXDATEs (a client deleting occurrences) sends a CANCEL of
  each excluded instance to every attendee, not the whole series again.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

import icalendar
from icalendar.parser import Contentline, param_value

from bridge.core.codec import PRODID, content_line
from bridge.core.times import time_value

RESPONSE_COMMENT = "X-RESPONSE-COMMENT"
_PARTSTAT_WORDS = {"ACCEPTED": "Accepted", "DECLINED": "Declined",
                   "TENTATIVE": "Tentatively accepted"}
# A change to one of these sends the whole event to every attendee again.
_RESCHEDULING = (("SUMMARY",), ("LOCATION",), ("DTSTART", "DTEND", "DURATION"),
                 ("RRULE", "RDATE", "EXDATE", "EXRULE"))
_STAMPS = frozenset({"DTSTAMP", "LAST-MODIFIED"})


@dataclass(frozen=True)
class ItipMessage:
    """One message to send: the iCalendar part and the plain text people read."""

    method: str  # REQUEST, CANCEL or REPLY
    event_uid: str
    # A message may name several recipients; the outbox queues one row per recipient.
    sender: str
    recipients: tuple[str, ...]
    subject: str
    body_text: str
    calendar_text: str


def mail(value: object) -> str:
    """A CAL-ADDRESS value or an email without its mailto: prefix, case kept."""
    text = str(value)
    return text[7:] if text.lower().startswith("mailto:") else text


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def master(calendar: icalendar.Calendar) -> icalendar.cal.Component:
    """The VEVENT without RECURRENCE-ID (else the first VEVENT)."""
    events = calendar.walk("VEVENT")
    return next((e for e in events if "RECURRENCE-ID" not in e), events[0])


def attendees(event: icalendar.cal.Component) -> list[str]:
    """The attendees' addresses as written (without mailto:), each address once."""
    seen: dict[str, str] = {}
    for value in _as_list(event.get("ATTENDEE")):
        seen.setdefault(mail(value).lower(), mail(value))
    return list(seen.values())


def _when(event: icalendar.cal.Component) -> str:
    start = getattr(event.get("DTSTART"), "dt", None)
    if isinstance(start, dt.datetime):
        zone = f" {start.tzinfo}" if start.tzinfo else ""
        return start.strftime("%Y-%m-%d %H:%M") + zone
    if isinstance(start, dt.date):
        return start.isoformat() + " (all day)"
    return ""


def _summary_text(event: icalendar.cal.Component, headline: str) -> str:
    lines = [headline, "", f"Title: {event.get('SUMMARY', '')}", f"When: {_when(event)}"]
    rule = event.get("RRULE")
    if isinstance(rule, icalendar.vRecur):
        lines.append(f"Repeats: {rule.to_ical().decode()}")
    if event.get("LOCATION"):
        lines.append(f"Where: {event['LOCATION']}")
    if event.get("ORGANIZER"):
        lines.append(f"Organizer: {mail(event['ORGANIZER'])}")
    invited = _as_list(event.get("ATTENDEE"))
    if invited:
        lines.append("Attendees: " + ", ".join(mail(a) for a in invited))
    if event.get("DESCRIPTION"):
        lines += ["", str(event["DESCRIPTION"])]
    return "\n".join(lines) + "\n"


def _with_method(calendar: icalendar.Calendar, method: str) -> icalendar.Calendar:
    out = icalendar.Calendar()
    out.add("PRODID", PRODID)
    out.add("VERSION", "2.0")
    out.add("METHOD", method)
    for component in calendar.subcomponents:
        if component.name == "VTIMEZONE":
            out.add_component(component)
    return out


def _copied(event: icalendar.cal.Component, keys: tuple[str, ...]) -> icalendar.Event:
    copied = icalendar.Event()
    for key in keys:
        if key in event:
            copied.add(key, event[key], encode=False)
    return copied


def _sequence(event: icalendar.cal.Component) -> int:
    return int(event.get("SEQUENCE", 0))


def _title(event: icalendar.cal.Component) -> str:
    return str(event.get("SUMMARY", "(no title)"))


def request(calendar: icalendar.Calendar, organizer: str, recipients: list[str]
            ) -> ItipMessage:
    """An invitation (or update) to ``recipients``: the whole event, alarms left out; the
    parsed ``calendar`` is not changed."""
    out = _with_method(calendar, "REQUEST")
    for event in calendar.walk("VEVENT"):
        shown = copy.copy(event)  # shares the properties; only the list of children differs
        shown.subcomponents = [c for c in event.subcomponents if c.name != "VALARM"]
        out.add_component(shown)
    event = master(calendar)
    headline = ("Updated invitation" if _sequence(event) > 0 else "Invitation") + \
        f": {_title(event)}"
    return ItipMessage(
        method="REQUEST", event_uid=str(event["UID"]), sender=organizer,
        recipients=tuple(recipients), subject=f"{headline} @ {_when(event)}",
        body_text=_summary_text(event, headline), calendar_text=out.to_ical().decode())


def cancel(calendar: icalendar.Calendar, organizer: str, recipients: list[str],
           now: dt.datetime | None = None) -> ItipMessage:
    """A cancellation for ``recipients`` (all of them on delete, the removed ones on update)."""
    event = master(calendar)
    out = _with_method(calendar, "CANCEL")
    cancelled = _copied(event, ("UID", "RECURRENCE-ID", "SUMMARY", "DTSTART", "DTEND",
                                "DURATION", "LOCATION", "ORGANIZER", "RRULE"))
    cancelled.add("DTSTAMP", now or dt.datetime.now(dt.UTC))
    cancelled.add("SEQUENCE", _sequence(event) + 1)
    cancelled.add("STATUS", "CANCELLED")
    for address in recipients:
        cancelled.add("ATTENDEE", f"mailto:{address}")
    out.add_component(cancelled)
    return ItipMessage(
        method="CANCEL", event_uid=str(event["UID"]), sender=organizer,
        recipients=tuple(recipients), subject=f"Cancelled: {_title(event)} @ {_when(event)}",
        body_text=_summary_text(event, f"Cancelled: {_title(event)}"),
        calendar_text=out.to_ical().decode())


def reply(calendar: icalendar.Calendar, attendee: str, comment: str | None,
          now: dt.datetime | None = None) -> ItipMessage:
    """The attendee's answer to the organizer, carrying their PARTSTAT and comment."""
    event = master(calendar)
    organizer = mail(event.get("ORGANIZER", ""))
    line = next(a for a in _as_list(event.get("ATTENDEE"))
                if mail(a).lower() == attendee.lower())
    partstat = str(line.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
    out = _with_method(calendar, "REPLY")
    answer = _copied(event, ("UID", "RECURRENCE-ID", "SUMMARY", "DTSTART", "DTEND", "DURATION",
                             "ORGANIZER", "SEQUENCE"))
    answer.add("DTSTAMP", now or dt.datetime.now(dt.UTC))
    answer.add("ATTENDEE", line, encode=False)
    if comment:
        answer.add("COMMENT", comment)
    out.add_component(answer)
    word = _PARTSTAT_WORDS.get(partstat, partstat.title())
    body = _summary_text(event, f"{attendee} {word.lower()}: {_title(event)}")
    if comment:
        body += f"\nComment: {comment}\n"
    return ItipMessage(
        method="REPLY", event_uid=str(event["UID"]), sender=attendee,
        recipients=(organizer,), subject=f"{word}: {_title(event)} @ {_when(event)}",
        body_text=body, calendar_text=out.to_ical().decode())


def answered_line(newline: str, name: str, params: icalendar.Parameters, value: str,
                  partstat: str, comment: str | None, **more: str) -> str:
    """An ATTENDEE content line carrying an answer: PARTSTAT, the comment as
    X-RESPONSE-COMMENT (dropped when None) and ``more`` parameters set, the others kept."""
    params["PARTSTAT"] = partstat
    params.update(more)
    if comment:
        params[RESPONSE_COMMENT] = comment
    else:
        params.pop(RESPONSE_COMMENT, None)
    encoded = [(key.upper(), param_value(param, always_quote=key.upper() == RESPONSE_COMMENT))
               for key, param in params.items()]
    return content_line(newline, name.upper(), value, encoded)


def instance_calendar(calendar: icalendar.Calendar, instance: icalendar.cal.Component
                      ) -> icalendar.Calendar:
    """A calendar holding one instance of a series (an override, or an expanded instance with
    its RECURRENCE-ID) as its only event, with the VTIMEZONEs: ``messages_for`` over two such
    calendars decides for that instance alone (REQUEST, CANCEL and REPLY carry RECURRENCE-ID)."""
    out = icalendar.Calendar()
    for name, value in calendar.items():
        out.add(name, value, encode=False)
    for component in calendar.subcomponents:
        if component.name == "VTIMEZONE":
            out.add_component(component)
    alone = copy.copy(instance)
    for name in ("RRULE", "RDATE", "EXDATE", "EXRULE"):
        alone.pop(name, None)
    out.add_component(alone)
    return out


# -- the decisions ------------------------------------------------------------------------------


def _lines(calendar: icalendar.Calendar, skipped: str | None) -> list[list[str]]:
    """Each VEVENT's content lines (sorted as icalendar writes them); with ``skipped``, without
    the stamps and that address's ATTENDEE lines."""
    events: list[list[str]] = []
    for event in calendar.walk("VEVENT"):
        kept: list[str] = []
        for line in event.content_lines():
            if line and (skipped is None or not _skipped(line, skipped)):
                kept.append(line)
        events.append(kept)
    return events


def _skipped(line: Contentline, address: str) -> bool:
    name, _, value = line.parts()
    name = name.upper()
    return name in _STAMPS or (name == "ATTENDEE" and mail(value).lower() == address)


def _is_answer(old: icalendar.Calendar, new: icalendar.Calendar, key: str) -> bool:
    """Whether the actor (``key``: their lower-case address) only answered someone else's
    invitation."""
    event = master(new)
    organizer = mail(event.get("ORGANIZER", "")).lower()
    if organizer == key or key not in {a.lower() for a in attendees(event)}:
        return False
    return _lines(old, key) == _lines(new, key)


def _values(event: icalendar.cal.Component, names: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(name, str(Contentline.from_parts(name, value.params, value)))
            for name in names for value in _as_list(event.get(name))]


def _comment(event: icalendar.cal.Component, actor: str) -> str | None:
    for value in _as_list(event.get("ATTENDEE")):
        if mail(value).lower() == actor and value.params.get(RESPONSE_COMMENT):
            return str(value.params[RESPONSE_COMMENT])
    return None


def _exdates(event: icalendar.cal.Component) -> set[dt.date | dt.datetime]:
    return {one.dt for value in _as_list(event.get("EXDATE")) for one in value.dts}


def _excluded(before: icalendar.cal.Component, after: icalendar.cal.Component
              ) -> list[dt.date | dt.datetime]:
    """The instances ``after`` newly excludes (EXDATE), when that is all that changed in what
    would reschedule the series; else nothing."""
    kept = [names for names in _RESCHEDULING if "EXDATE" not in names]
    recurrence = ("RRULE", "RDATE", "EXRULE")
    if any(_values(before, names) != _values(after, names) for names in kept) or \
            _values(before, recurrence) != _values(after, recurrence):
        return []
    old, new = _exdates(before), _exdates(after)
    return sorted(new - old, key=str) if old <= new else []


def _occurrence(calendar: icalendar.Calendar, when: dt.date | dt.datetime
                ) -> icalendar.cal.Component:
    """The instance of the series starting at ``when``: its override, or the master moved
    there with that RECURRENCE-ID."""
    for event in calendar.walk("VEVENT"):
        if "RECURRENCE-ID" in event and time_value(event, "RECURRENCE-ID") == when:
            return event
    series = master(calendar)
    instance = copy.deepcopy(series)
    start = time_value(series, "DTSTART")
    for name in ("DTSTART", "DTEND", "RECURRENCE-ID"):
        instance.pop(name, None)
    instance.add("DTSTART", when)
    instance.add("RECURRENCE-ID", when)
    if "DTEND" in series:
        instance.add("DTEND", when + (time_value(series, "DTEND") - start))
    return instance


def _update_messages(old: icalendar.Calendar, new: icalendar.Calendar, actor: str,
                     now: dt.datetime | None) -> list[ItipMessage]:
    before, after = master(old), master(new)
    old_addresses = {a.lower() for a in attendees(before)}
    new_addresses = {a.lower() for a in attendees(after)}
    everyone = _others(after, actor)
    excluded = _excluded(before, after) if old_addresses == new_addresses else []
    if excluded and everyone:
        # Instances deleted from a series (EXDATE): a CANCEL of each, not the series again.
        return [cancel(instance_calendar(old, _occurrence(old, when)), actor, everyone, now)
                for when in excluded]
    rescheduled = any(_values(before, names) != _values(after, names) for names in _RESCHEDULING)
    invited = everyone if rescheduled else [a for a in everyone
                                            if a.lower() not in old_addresses]
    removed = [a for a in attendees(before) if a.lower() not in new_addresses]
    messages = [request(new, actor, invited)] if invited else []
    if removed:
        messages.append(cancel(old, actor, removed, now))
    return messages


def _others(event: icalendar.cal.Component, actor: str) -> list[str]:
    return [a for a in attendees(event) if a.lower() != mail(actor).lower()]


def messages_for(old: icalendar.Calendar | None, new: icalendar.Calendar | None, actor: str,
                 now: dt.datetime | None = None) -> list[ItipMessage]:
    """The messages ``actor`` (their address, the sender) sends by turning ``old`` into
    ``new`` (None: the event does not exist before or after), each with a recipient."""
    if new is None:
        others = _others(master(old), actor) if old is not None else []
        return [cancel(old, actor, others, now)] if old is not None and others else []
    if old is None:
        others = _others(master(new), actor)
        return [request(new, actor, others)] if others else []
    if _lines(old, None) == _lines(new, None):
        return []
    key = mail(actor).lower()
    if _is_answer(old, new, key):
        return [reply(new, actor, _comment(master(new), key), now)]
    return _update_messages(old, new, actor, now)
