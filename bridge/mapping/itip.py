"""iTIP messages (RFC 5546) from stored event text: thin wrappers over ``bridge.core.itip``,
kept for the views that build messages one by one. New callers use
``bridge.core.itip.messages_for(old, new, actor)``, which also decides who gets what."""

from __future__ import annotations

import icalendar

from bridge.core.itip import ItipMessage, cancel, reply, request


def request_message(event_text: str, organizer: str, recipients: list[str]) -> ItipMessage:
    """An invitation (or update) to ``recipients``: the whole event, alarms left out."""
    return request(icalendar.Calendar.from_ical(event_text), organizer, recipients)


def cancel_message(event_text: str, organizer: str, recipients: list[str]) -> ItipMessage:
    """A cancellation for ``recipients`` (all of them on delete, the removed ones on update)."""
    return cancel(icalendar.Calendar.from_ical(event_text), organizer, recipients)


def reply_message(event_text: str, attendee: str, comment: str | None) -> ItipMessage:
    """The attendee's answer to the organizer, carrying their PARTSTAT and comment."""
    return reply(icalendar.Calendar.from_ical(event_text), attendee, comment)
