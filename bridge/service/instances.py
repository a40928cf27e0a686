"""Writes to one instance of a series, or to an instance and all that follow, for the REST door.

Decisions:
- The text is edited by ``bridge.mapping.event_instances`` (an override, an EXDATE, a split);
  the write goes through the event service's path: one parse, checks outside the lock, a short
  write transaction with the series' etag as precondition and the outbox rows in it.
- Who hears of it is ``messages_for`` on the instance alone (``instance_calendar``): attendees
  get a REQUEST or CANCEL carrying that RECURRENCE-ID, the organizer a REPLY for it.
- The timeframe of a token holds for the instance (before and after a move), not the series.
- "This and following" from the first instance is the whole series (the series' own update or
  delete). A split writes the shortened series and the new one in one transaction; attendees
  get the shortened series (its rule changed) and the new series as invitations.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import icalendar

from bridge.core.expand import parsed_objects
from bridge.core.itip import instance_calendar, messages_for
from bridge.core.times import as_utc
from bridge.mapping import events as mapping
from bridge.mapping.event_instances import (
    InstanceNotFound,
    Key,
    as_key,
    exclude_instance_text,
    following_series_text,
    patch_instance_text,
    respond_instance_text,
    truncate_series_text,
)
from bridge.mapping.event_lines import component_times
from bridge.mapping.event_patch import patch_event_text
from bridge.service.errors import InvalidInput, Missing, Refused
from bridge.service.events import (
    EventService,
    Outcome,
    ResponseStatus,
    Written,
    queued,
    require_open_time,
    require_within_timeframe,
    window_of,
)
from bridge.store.access import AccessPolicy
from bridge.store.outbox import OutgoingMessage
from bridge.store.store import CollectionRecord, ObjectRecord, PreparedObject

_TIME_FIELDS = ("start", "end", "all_day", "time_zone")


@dataclass(frozen=True)
class _Edit:
    outcome: Outcome
    prepared: PreparedObject
    messages: Sequence[OutgoingMessage]


def _instance(cal: icalendar.Calendar, key: Key) -> icalendar.cal.Component:
    found = mapping.find_instance("", key, cal)
    if found is None:
        raise Missing("The series has no such instance.", code="EVENT_NOT_FOUND")
    return found


def _window(instance: icalendar.cal.Component) -> tuple[dt.datetime, dt.datetime]:
    start, end = component_times(instance)
    return as_utc(start), as_utc(end)


class InstanceService:
    def __init__(self, events: EventService) -> None:
        self.events = events
        self.store = events.store

    def _edited(self, record: ObjectRecord, key: Key, text: str, policy: AccessPolicy,
                now: dt.datetime, notify: bool, removed: bool = False) -> _Edit:
        """The new text's one parse and the instance's messages (``removed``: it is gone)."""
        old = parsed_objects.get(record.text, record.etag)
        cal, prepared = self.events.prepare(text)
        before = instance_calendar(old, _instance(old, key))
        after = None if removed else instance_calendar(cal, _instance(cal, key))
        messages = messages_for(before, after, policy.user.email, now) if notify else []
        outcome = Outcome(text, cal, prepared.etag, record.collection_id, queued(messages))
        return _Edit(outcome, prepared, messages)

    def _write(self, record: ObjectRecord, calendar: CollectionRecord, edit: _Edit) -> Written:
        with self.store.write(*self.events.locks(calendar, edit.messages)):
            new_record, _ = self.store.put_object(calendar.id, record.href, edit.prepared,
                                                  if_match=record.etag)
            self.events.enqueue(edit.messages)
        return Written(new_record, edit.outcome)

    def update(self, record: ObjectRecord, calendar: CollectionRecord, policy: AccessPolicy,
               key: Key, patch: mapping.EventPatch, *, notify: bool) -> Written:
        """One instance changed: its override written (made if new)."""
        old = parsed_objects.get(record.text, record.etag)
        require_within_timeframe(policy, *_window(_instance(old, key)))
        now = dt.datetime.now(dt.UTC)
        try:
            result = patch_instance_text(record.text, key, patch, now, policy.user.email)
        except mapping.EventMappingError as exc:
            raise InvalidInput.of_field(exc.field, exc.message) from exc
        except InstanceNotFound as exc:
            raise Missing("The series has no such instance.", code="EVENT_NOT_FOUND") from exc
        edit = self._edited(record, key, result.text, policy, now, notify)
        if "times" in result.changed:
            start, end = _window(_instance(edit.outcome.parsed, key))
            require_within_timeframe(policy, start, end)
            require_open_time(calendar, start, end)
        return self._write(record, calendar, edit)

    def delete(self, record: ObjectRecord, calendar: CollectionRecord, policy: AccessPolicy,
               key: Key, *, notify: bool) -> bool:
        """One instance removed (an EXDATE); True when cancellations were queued."""
        old = parsed_objects.get(record.text, record.etag)
        require_within_timeframe(policy, *_window(_instance(old, key)))
        now = dt.datetime.now(dt.UTC)
        text = exclude_instance_text(record.text, key, now)
        edit = self._edited(record, key, text, policy, now, notify, removed=True)
        self._write(record, calendar, edit)
        return edit.outcome.queued

    def respond(self, record: ObjectRecord, calendar: CollectionRecord, policy: AccessPolicy,
                key: Key, status: ResponseStatus, comment: str | None, *,
                notify: bool) -> Written:
        """The caller's answer for one instance only (its override), replied for it."""
        old = parsed_objects.get(record.text, record.etag)
        require_within_timeframe(policy, *_window(_instance(old, key)))
        now = dt.datetime.now(dt.UTC)
        email = policy.user.email
        try:
            text = respond_instance_text(record.text, key, lambda alone: mapping.respond_text(
                alone, email, status, comment, now))
        except mapping.OrganizerCannotRespond as exc:
            raise Refused("The organizer cannot respond to their own event.",
                          code=exc.code) from exc
        except mapping.NotAnAttendee as exc:
            raise Refused("You are not an attendee of this instance.", code=exc.code) from exc
        return self._write(record, calendar, self._edited(record, key, text, policy, now, notify))

    # -- this and following ---------------------------------------------------------------------

    def _is_first(self, record: ObjectRecord, key: Key) -> bool:
        master = next(e for e in parsed_objects.get(record.text, record.etag).walk("VEVENT")
                      if "RECURRENCE-ID" not in e)
        start, _ = component_times(master)
        return mapping.instance_key(key) == mapping.instance_key(as_key(start))

    def update_following(self, record: ObjectRecord, calendar: CollectionRecord,
                         policy: AccessPolicy, key: Key, patch: mapping.EventPatch, *,
                         notify: bool) -> Written:
        """The instance and every later one changed: the series split there."""
        if self._is_first(record, key):
            return self.events.update(record, calendar, policy, patch, notify=notify)
        old = parsed_objects.get(record.text, record.etag)
        require_within_timeframe(policy, *_window(_instance(old, key)))
        now = dt.datetime.now(dt.UTC)
        email = policy.user.email
        uid = str(uuid.uuid4())
        try:
            shortened = truncate_series_text(record.text, key, now)
            following = following_series_text(
                record.text, key, uid, now,
                keep_overrides=not any(patch.given(name) for name in _TIME_FIELDS))
            result = patch_event_text(following, patch, now, email)
        except mapping.EventMappingError as exc:
            raise InvalidInput.of_field(exc.field, exc.message) from exc
        short_cal, short_prepared = self.events.prepare(shortened)
        new_cal, new_prepared = self.events.prepare(result.text)
        start, end = window_of(new_cal)
        require_within_timeframe(policy, start, end)
        if "times" in result.changed:
            require_open_time(calendar, start, end)
        messages = [*messages_for(old, short_cal, email, now),
                    *messages_for(None, new_cal, email, now)] if notify else []
        with self.store.write(*self.events.locks(calendar, messages)):
            self.store.put_object(calendar.id, record.href, short_prepared,
                                  if_match=record.etag)
            new_record, _ = self.store.put_object(calendar.id, f"{uid}.ics", new_prepared,
                                                  if_none_match=True)
            self.events.enqueue(messages)
        return Written(new_record, Outcome(result.text, new_cal, new_prepared.etag, calendar.id,
                                           queued(messages)))

    def delete_following(self, record: ObjectRecord, calendar: CollectionRecord,
                         policy: AccessPolicy, key: Key, *, notify: bool) -> bool:
        """The instance and every later one removed: the series ends before it."""
        if self._is_first(record, key):
            return self.events.delete(record, calendar, policy, notify=notify)
        old = parsed_objects.get(record.text, record.etag)
        require_within_timeframe(policy, *_window(_instance(old, key)))
        now = dt.datetime.now(dt.UTC)
        shortened = truncate_series_text(record.text, key, now)
        cal, prepared = self.events.prepare(shortened)
        messages = messages_for(old, cal, policy.user.email, now) if notify else []
        with self.store.write(*self.events.locks(calendar, messages)):
            self.store.put_object(calendar.id, record.href, prepared, if_match=record.etag)
            self.events.enqueue(messages)
        return queued(messages)
