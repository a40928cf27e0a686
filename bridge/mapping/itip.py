"""iTIP messages (RFC 5546) for an event: REQUEST, CANCEL and REPLY, with the plain-text part
people read. Pure functions; delivery (iMIP, RFC 6047) belongs to the outbox sender."""

from __future__ import annotations

import datetime as dt

import icalendar

from bridge.store.outbox import OutgoingMessage

_PARTSTAT_WORDS = {"ACCEPTED": "Accepted", "DECLINED": "Declined",
                   "TENTATIVE": "Tentatively accepted"}


def _mail(value: object) -> str:
    text = str(value)
    return text[7:] if text.lower().startswith("mailto:") else text


def _master(cal: icalendar.Calendar) -> icalendar.cal.Component:
    events = cal.walk("VEVENT")
    return next((e for e in events if "RECURRENCE-ID" not in e), events[0])


def _when(event: icalendar.cal.Component) -> str:
    start = event["DTSTART"].dt
    if not isinstance(start, dt.datetime):
        return start.isoformat() + " (all day)"
    zone = f" {start.tzinfo}" if start.tzinfo else ""
    return start.strftime("%Y-%m-%d %H:%M") + zone


def _summary_text(event: icalendar.cal.Component, headline: str) -> str:
    lines = [headline, "", f"Title: {event.get('SUMMARY', '')}", f"When: {_when(event)}"]
    if "RRULE" in event:
        lines.append(f"Repeats: {event['RRULE'].to_ical().decode()}")
    if event.get("LOCATION"):
        lines.append(f"Where: {event['LOCATION']}")
    if event.get("ORGANIZER"):
        lines.append(f"Organizer: {_mail(event['ORGANIZER'])}")
    attendees = event.get("ATTENDEE", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    if attendees:
        lines.append("Attendees: " + ", ".join(_mail(a) for a in attendees))
    if event.get("DESCRIPTION"):
        lines += ["", str(event["DESCRIPTION"])]
    return "\n".join(lines) + "\n"


def _with_method(cal: icalendar.Calendar, method: str) -> icalendar.Calendar:
    out = icalendar.Calendar()
    out.add("PRODID", "-//calbridge//calbridge//EN")
    out.add("VERSION", "2.0")
    out.add("METHOD", method)
    for component in cal.subcomponents:
        if component.name == "VTIMEZONE":
            out.add_component(component)
    return out


def request_message(event_text: str, organizer: str, recipients: list[str]) -> OutgoingMessage:
    """An invitation (or update) to ``recipients``: the whole event, alarms left out."""
    cal = icalendar.Calendar.from_ical(event_text)
    out = _with_method(cal, "REQUEST")
    for event in cal.walk("VEVENT"):
        event.subcomponents = [c for c in event.subcomponents if c.name != "VALARM"]
        out.add_component(event)
    master = _master(cal)
    summary = str(master.get("SUMMARY", "(no title)"))
    updated = int(master.get("SEQUENCE", 0)) > 0
    headline = ("Updated invitation" if updated else "Invitation") + f": {summary}"
    return OutgoingMessage(
        method="REQUEST", event_uid=str(master["UID"]), sender=organizer,
        recipients=tuple(recipients), subject=f"{headline} @ {_when(master)}",
        body_text=_summary_text(master, headline), calendar_text=out.to_ical().decode())


def cancel_message(event_text: str, organizer: str, recipients: list[str]) -> OutgoingMessage:
    """A cancellation for ``recipients`` (all of them on delete, the removed ones on update)."""
    cal = icalendar.Calendar.from_ical(event_text)
    master = _master(cal)
    out = _with_method(cal, "CANCEL")
    event = icalendar.Event()
    for key in ("UID", "SUMMARY", "DTSTART", "DTEND", "DURATION", "LOCATION", "ORGANIZER",
                "RRULE"):
        if key in master:
            event.add(key, master[key], encode=False)
    event.add("DTSTAMP", dt.datetime.now(dt.UTC))
    event.add("SEQUENCE", int(master.get("SEQUENCE", 0)) + 1)
    event.add("STATUS", "CANCELLED")
    for address in recipients:
        event.add("ATTENDEE", f"mailto:{address}")
    out.add_component(event)
    summary = str(master.get("SUMMARY", "(no title)"))
    return OutgoingMessage(
        method="CANCEL", event_uid=str(master["UID"]), sender=organizer,
        recipients=tuple(recipients), subject=f"Cancelled: {summary} @ {_when(master)}",
        body_text=_summary_text(master, f"Cancelled: {summary}"),
        calendar_text=out.to_ical().decode())


def reply_message(event_text: str, attendee: str, comment: str | None) -> OutgoingMessage:
    """The attendee's answer to the organizer, carrying their PARTSTAT and comment."""
    cal = icalendar.Calendar.from_ical(event_text)
    master = _master(cal)
    organizer = _mail(master.get("ORGANIZER", ""))
    attendees = master.get("ATTENDEE", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    line = next(a for a in attendees if _mail(a).lower() == attendee.lower())
    partstat = str(line.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
    out = _with_method(cal, "REPLY")
    event = icalendar.Event()
    for key in ("UID", "SUMMARY", "DTSTART", "DTEND", "DURATION", "ORGANIZER", "SEQUENCE"):
        if key in master:
            event.add(key, master[key], encode=False)
    event.add("DTSTAMP", dt.datetime.now(dt.UTC))
    event.add("ATTENDEE", line, encode=False)
    if comment:
        event.add("COMMENT", comment)
    out.add_component(event)
    word = _PARTSTAT_WORDS.get(partstat, partstat.title())
    summary = str(master.get("SUMMARY", "(no title)"))
    body = _summary_text(master, f"{attendee} {word.lower()}: {summary}")
    if comment:
        body += f"\nComment: {comment}\n"
    return OutgoingMessage(
        method="REPLY", event_uid=str(master["UID"]), sender=attendee,
        recipients=(organizer,), subject=f"{word}: {summary} @ {_when(master)}",
        body_text=body, calendar_text=out.to_ical().decode())
