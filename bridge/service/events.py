"""The event service: create, update, delete and respond, orchestrated once for every door.

Decisions:
- Parse and decide outside the lock: the mapping writes the new text, it is parsed once
  (``parse_object``), the store indexes that same parse (``prepare(parsed=...)``), the token's
  timeframe and the calendar's open time are checked and the iTIP messages are built.
- Who hears of a write is ``bridge.core.itip.messages_for(old, new, actor)`` on the two parses
  (None for the side that does not exist); the service only decides whether to notify at all
  (the request's flag) and queues one outbox row per recipient.
- The write transaction only checks preconditions (If-Match, If-None-Match, UID clash), writes,
  enqueues the outbox rows and remembers the idempotency key.
- Answers come from the same parse: after commit (``Written``), or, for a create, drafted before
  the lock and completed with the stored record inside it (``Draft``), since an idempotent
  answer is committed with the write it describes.
- Refusals are ``bridge.service.errors``; the store's errors pass through. No web framework.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import icalendar

from bridge.core.availability import AVAILABILITY_PROP, open_time, stored_schedules, subtract
from bridge.core.expand import parsed_objects
from bridge.core.index import parse_object
from bridge.core.itip import attendees, messages_for
from bridge.core.times import as_utc
from bridge.mapping import events as mapping
from bridge.mapping.calendars import timezone_from_props
from bridge.service.errors import InvalidInput, KeyReused, OutsideTimeframe, Refused
from bridge.service.scheduling import RsvpLinks, Scheduler
from bridge.store.access import AccessPolicy
from bridge.store.idempotency import IdempotencyKeys, StoredResponse
from bridge.store.outbox import OutgoingMessage
from bridge.store.store import CalendarStore, CollectionRecord, ObjectRecord, PreparedObject

MAX_KEY_LENGTH = 255
ResponseStatus = Literal["accepted", "declined", "tentative"]


@dataclass(frozen=True)
class Outcome:
    """A write as decided before the lock: the new text, its one parse and its etag."""

    text: str
    parsed: icalendar.Calendar
    etag: str
    calendar_id: int
    queued: bool  # iTIP messages go out with the write


@dataclass(frozen=True)
class Written:
    record: ObjectRecord
    outcome: Outcome


@dataclass(frozen=True)
class IdempotencyKey:
    """An Idempotency-Key of one token, and the print of the request that came with it."""

    token_id: int
    key: str
    fingerprint: str


# An answer drafted from the outcome before the lock; the returned function completes it with
# the stored record inside the write transaction (no parsing, no rendering there).
Finish = Callable[[ObjectRecord], StoredResponse]
Draft = Callable[[Outcome], Finish]


@dataclass(frozen=True)
class Reply:
    """A create's answer: new, or the first answer to the same key (``replayed``)."""

    response: StoredResponse
    replayed: bool = False


# -- checks from the parsed event --------------------------------------------------------------

def require_within_timeframe(policy: AccessPolicy, start: dt.datetime, end: dt.datetime
                             ) -> None:
    earliest, latest = policy.timeframe()
    if (earliest and start < earliest) or (latest and end > latest):
        window = f"{earliest.date() if earliest else '-'} to {latest.date() if latest else '-'}"
        raise OutsideTimeframe(f"Event falls outside the allowed timeframe ({window}).")


def require_open_time(calendar: CollectionRecord, start: dt.datetime, end: dt.datetime) -> None:
    """A calendar with schedules books only inside its open time (the first instance)."""
    schedules = stored_schedules(calendar.props.get(AVAILABILITY_PROP))
    if schedules and subtract([(start, end)], open_time(schedules, start, end)):
        raise Refused("The calendar's schedules do not allow an event at this time.",
                      code="SLOT_UNAVAILABLE")


def _master(cal: icalendar.Calendar) -> icalendar.Event | None:
    return next((e for e in cal.walk("VEVENT")
                 if isinstance(e, icalendar.Event) and "RECURRENCE-ID" not in e), None)


def window_of(cal: icalendar.Calendar) -> tuple[dt.datetime, dt.datetime]:
    """The master's start and end as UTC instants (``mapping.event_window`` of a parse);
    icalendar's ``end`` follows RFC 5545 (DTEND, DTSTART + DURATION, else a day or nothing)."""
    master = _master(cal)
    if master is None:
        raise mapping.EventMappingError("event", "the stored object has no master VEVENT")
    if "DTSTART" not in master:
        raise mapping.EventMappingError("from", "the stored event has no DTSTART")
    return as_utc(master.start), as_utc(master.end)


def stored_window(record: ObjectRecord) -> tuple[dt.datetime, dt.datetime]:
    return window_of(parsed_objects.get(record.text, record.etag))


def attendee_emails(cal: icalendar.Calendar) -> list[str]:
    """The master's attendees (without mailto:, each once); none without a master VEVENT."""
    master = _master(cal)
    return attendees(master) if master is not None else []


def queued(messages: Sequence[OutgoingMessage]) -> bool:
    return any(m.recipients for m in messages)


def _in_calendar_zone(patch: mapping.EventPatch, record: ObjectRecord,
                      calendar: CollectionRecord) -> mapping.EventPatch:
    """A move without ``timeZone`` of an event stored in UTC takes the calendar's zone (a
    recurring event then keeps its local time across daylight saving); a zone the event has
    is kept."""
    zone = timezone_from_props(calendar.props)
    moves = patch.given("start") or patch.given("end")
    if not zone or not moves or patch.given("time_zone") or patch.all_day is True:
        return patch
    master = _master(parsed_objects.get(record.text, record.etag))
    start = master.get("DTSTART") if master is not None else None
    if start is None or not isinstance(start.dt, dt.datetime) or start.params.get("TZID"):
        return patch
    return dataclasses.replace(patch, time_zone=zone)


def _invalid(exc: mapping.EventMappingError) -> InvalidInput:
    return InvalidInput.of_field(exc.field, exc.message)


# -- the service --------------------------------------------------------------------------------

class EventService:
    """Event writes over one store; ``policy`` is the caller's (its timeframe, its email)."""

    def __init__(self, store: CalendarStore, links: RsvpLinks | None = None) -> None:
        self.store = store
        self.scheduler = Scheduler(store, links)

    def prepare(self, text: str) -> tuple[icalendar.Calendar, PreparedObject]:
        """The one parse of a new text, and the store's index built from it."""
        cal = parse_object(text)
        return cal, self.store.prepare(text, parsed=cal)

    def enqueue(self, messages: Sequence[OutgoingMessage]) -> None:
        """Deliver to local users, queue mail for the others (joins the caller's write
        transaction, which holds ``locks(messages)``)."""
        self.scheduler.deliver(messages)

    def locks(self, calendar: CollectionRecord, messages: Sequence[OutgoingMessage]
              ) -> list[str]:
        """The calendar's lock and those of every calendar the messages may be delivered to."""
        return [calendar.path, *self.scheduler.locks(messages)]

    @contextmanager
    def _locked(self, calendar: CollectionRecord, key: IdempotencyKey | None,
                messages: Sequence[OutgoingMessage]) -> Iterator[None]:
        # The key is per token, not per calendar: its own lock serializes two requests with one
        # key that write to different calendars (on PostgreSQL each calendar has its own lock).
        paths = self.locks(calendar, messages)
        if key is not None:
            paths.append(IdempotencyKeys.lock_path(key.token_id, key.key))
        with self.store.write(*paths):
            yield

    def create(self, calendar: CollectionRecord, policy: AccessPolicy, data: mapping.EventInput,
               *, notify: bool, draft: Draft, key: IdempotencyKey | None = None) -> Reply:
        """A new event in ``calendar``, invitations queued when it has other attendees; with
        ``key``, a replay gets the first answer back (another request with it: KeyReused)."""
        email = policy.user.email
        zone = timezone_from_props(calendar.props)
        if data.time_zone is None and not data.all_day and zone:
            data = dataclasses.replace(data, time_zone=zone)
        start, end = as_utc(data.start), as_utc(data.end)
        require_within_timeframe(policy, start, end)
        require_open_time(calendar, start, end)
        uid = str(uuid.uuid4())
        now = dt.datetime.now(dt.UTC)
        try:
            text = mapping.new_event_text(data, uid, email, now)
        except mapping.EventMappingError as exc:
            raise _invalid(exc) from exc
        cal, prepared = self.prepare(text)
        if key is not None and len(key.key) > MAX_KEY_LENGTH:
            raise InvalidInput(f"Idempotency-Key is at most {MAX_KEY_LENGTH} characters.")
        messages = messages_for(None, cal, email, now) if notify else []
        finish = draft(Outcome(text, cal, prepared.etag, calendar.id, queued(messages)))
        keys = IdempotencyKeys(self.store)
        with self._locked(calendar, key, messages):
            stored = keys.find(key.token_id, key.key) if key is not None else None
            if stored is None:
                record, _ = self.store.put_object(calendar.id, f"{uid}.ics", prepared,
                                                  if_none_match=True)
                self.enqueue(messages)
                response = finish(record)
                if key is not None:
                    keys.remember(key.token_id, key.key, dataclasses.replace(
                        response, fingerprint=key.fingerprint))
                return Reply(response)
        assert key is not None  # only a key finds a stored answer
        if stored.fingerprint != key.fingerprint:
            raise KeyReused()
        return Reply(stored, replayed=True)

    def update(self, record: ObjectRecord, calendar: CollectionRecord, policy: AccessPolicy,
               patch: mapping.EventPatch, *, notify: bool) -> Written:
        """Only the patched properties change; attendees hear of what concerns them."""
        email = policy.user.email
        require_within_timeframe(policy, *stored_window(record))
        now = dt.datetime.now(dt.UTC)
        patch = _in_calendar_zone(patch, record, calendar)
        try:
            result = mapping.patch_event_text(record.text, patch, now, email)
            cal, prepared = self.prepare(result.text)
            new_start, new_end = window_of(cal)
        except mapping.EventMappingError as exc:
            raise _invalid(exc) from exc
        if "times" in result.changed:
            require_within_timeframe(policy, new_start, new_end)
            require_open_time(calendar, new_start, new_end)
        old = parsed_objects.get(record.text, record.etag)
        messages = messages_for(old, cal, email, now) if notify else []
        outcome = Outcome(result.text, cal, prepared.etag, calendar.id, queued(messages))
        with self.store.write(*self.locks(calendar, messages)):
            new_record, _ = self.store.put_object(calendar.id, record.href, prepared,
                                                  if_match=record.etag)
            self.enqueue(messages)
        return Written(new_record, outcome)

    def delete(self, record: ObjectRecord, calendar: CollectionRecord, policy: AccessPolicy,
               *, notify: bool) -> bool:
        """Delete the event; True when cancellations were queued."""
        email = policy.user.email
        require_within_timeframe(policy, *stored_window(record))
        old = parsed_objects.get(record.text, record.etag)
        messages = messages_for(old, None, email) if notify else []
        with self.store.write(*self.locks(calendar, messages)):
            self.store.delete_object(calendar.id, record.href, if_match=record.etag)
            self.enqueue(messages)
        return queued(messages)

    def respond(self, record: ObjectRecord, calendar: CollectionRecord, policy: AccessPolicy,
                status: ResponseStatus, comment: str | None, *, notify: bool) -> Written:
        """The caller's answer as an attendee, sent to the organizer unless ``notify`` is off."""
        email = policy.user.email
        require_within_timeframe(policy, *stored_window(record))
        now = dt.datetime.now(dt.UTC)
        try:
            text = mapping.respond_text(record.text, email, status, comment, now)
        except mapping.OrganizerCannotRespond as exc:
            raise Refused("The organizer cannot respond to their own event.",
                          code=exc.code) from exc
        except mapping.NotAnAttendee as exc:
            raise Refused("You are not an attendee of this event.", code=exc.code) from exc
        cal, prepared = self.prepare(text)
        old = parsed_objects.get(record.text, record.etag)
        messages = messages_for(old, cal, email, now) if notify else []
        outcome = Outcome(text, cal, prepared.etag, calendar.id, queued(messages))
        with self.store.write(*self.locks(calendar, messages)):
            new_record, _ = self.store.put_object(calendar.id, record.href, prepared,
                                                  if_match=record.etag)
            self.enqueue(messages)
        return Written(new_record, outcome)

