"""RFC 6638 implicit scheduling as the CalDAV door asks for it: what a user's own PUT or DELETE
of a calendar object schedules (decided by the calendar core), with the request's
``Schedule-Reply`` header. The storage delivers the messages in its write transaction."""

from __future__ import annotations

import contextvars

from radicale.log import logger

from bridge.core.index import parse_object
from bridge.core.itip import ItipMessage
from bridge.core.scheduling import implicit_messages
from bridge.store.access import current_policy

# False for a request with "Schedule-Reply: F" (RFC 6638 8.1): an attendee's DELETE of their
# copy then declines nothing (the application sets it per request).
SCHEDULE_REPLY: contextvars.ContextVar[bool] = contextvars.ContextVar("calbridge_schedule_reply",
                                                                      default=True)


def scheduled(tag: str, old: str | None, new: str | None) -> list[ItipMessage]:
    """What the requesting user's write of ``old`` into ``new`` schedules; nothing outside
    calendars, nothing for an object it cannot read."""
    policy = current_policy.get()
    if policy is None or tag != "VCALENDAR" or (old is None and new is None):
        return []
    try:
        return implicit_messages(parse_object(old) if old else None,
                                 parse_object(new) if new else None, policy.user.email,
                                 reply_on_delete=SCHEDULE_REPLY.get())
    except (ValueError, KeyError, IndexError) as exc:
        logger.info("no scheduling for an object it cannot read: %s", exc)
        return []
