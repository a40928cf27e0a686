"""Instances of a calendar's events in a window: the index picks the candidates, and
recurring-ical-events expands only those (never the whole calendar), within the limits.

``expand_occurrences`` answers a whole window (free/busy, slots, feeds) and refuses one that
holds more instances than the request may expand. ``walk`` pages through a window in start
order from a position, expanding slice by slice from there: a page costs about the instances
it shows (and the series it has to look at), whatever the length of the window.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import icalendar

from bridge.core.expand import instances_between, some_instances
from bridge.core.limits import LimitExceeded, TooManyInstances, TooManyMatches
from bridge.core.recurrence import Instance
from bridge.core.times import from_ts
from bridge.store.store import CalendarStore, ObjectRecord

logger = logging.getLogger(__name__)
SECOND = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Position:
    """A place in a window's order (start, event id, instance key). An empty event id sorts
    before every instance starting at ``start``: "from ``start`` on"."""

    start: int  # POSIX seconds
    event_id: str = ""
    key: str = ""

    def __le__(self, other: Position) -> bool:
        return (self.start, self.event_id, self.key) <= (other.start, other.event_id, other.key)


@dataclass(frozen=True)
class Occurrence:
    record: ObjectRecord
    instance: Instance

    @property
    def start(self) -> dt.datetime:
        return self.instance.start

    @property
    def end(self) -> dt.datetime:
        return self.instance.end

    @functools.cached_property
    def component(self) -> icalendar.cal.Component:
        """The expanded instance (built on first use; a single event's is shared: read it,
        never change it)."""
        return self.instance.component()

    @property
    def source(self) -> icalendar.cal.Component:
        """The stored component the instance comes from (the series or its override)."""
        return self.instance.source

    @property
    def busy(self) -> bool:
        """Whether the instance blocks time (opaque and not cancelled)."""
        transparency = str(self.source.get("TRANSP", "OPAQUE")).upper()
        status = str(self.source.get("STATUS", "CONFIRMED")).upper()
        return transparency != "TRANSPARENT" and status != "CANCELLED"

    @property
    def position(self) -> Position:
        return Position(int(self.start.timestamp()), self.record.public_id, self.instance.key)


class Budget:
    """The instances one request may still expand (``[limits] max_instances_per_request``)."""

    def __init__(self, instances: int) -> None:
        self.limit = instances
        self.spent = 0

    def spend(self, count: int) -> None:
        self.spent += count
        if self.spent > self.limit:
            raise TooManyMatches(f"the request would expand more than {self.limit} instances; "
                                 "ask for a shorter window")


def expand_occurrences(store: CalendarStore, calendar_id: int, start: dt.datetime,
                       end: dt.datetime, budget: Budget | None = None) -> list[Occurrence]:
    """Every VEVENT instance overlapping [start, end), ordered by start. One object with more
    than ``max_instances`` instances is TooManyInstances; more than the budget in all (by
    default one request's) is TooManyMatches."""
    budget = budget or Budget(store.limits.max_instances_per_request)
    out: list[Occurrence] = []
    matches = store.objects_in_window(calendar_id, int(start.timestamp()),
                                      int(end.timestamp()) + 1)
    for match in matches:
        record = match.record
        # An object may yield what is left of the budget, at most its own cap.
        room = budget.limit - budget.spent
        try:
            found = instances_between(record.text, record.etag, start, end,
                                      min(room, store.limits.max_instances))
        except TooManyInstances as exc:
            if type(exc) is TooManyInstances and room < store.limits.max_instances:
                budget.spend(room + 1)  # raises TooManyMatches
            raise
        except LimitExceeded:
            raise
        except ValueError as exc:  # a broken stored object must not hide the others
            logger.warning("cannot expand %s in calendar %s: %s", record.href, calendar_id, exc)
            continue
        budget.spend(len(found))
        out.extend(Occurrence(record, instance) for instance in found)
    out.sort(key=lambda o: (o.start, o.record.href))
    return out


@dataclass(frozen=True)
class Page:
    occurrences: list[Occurrence]
    more: bool  # instances may follow ``resume``; False: the walk reached the window's end
    resume: Position | None  # where the next page starts
    skipped: int  # accepted instances passed over for the offset
    span: dt.timedelta  # the last slice's length: the next page starts with it


def walk(store: CalendarStore, calendar_ids: Sequence[int], start: dt.datetime,
         end: dt.datetime, *, after: Position | None, skip: int, want: int,
         accept: Callable[[Occurrence], bool], max_examined: int,
         span: dt.timedelta = DAY) -> Page:
    """The first ``want`` accepted instances overlapping [start, end) after ``after`` (and
    after ``skip`` more accepted ones), in (start, event id, instance key) order.

    The window is expanded in slices from the position on; a slice holding far more than the
    page needs is retried shorter, one holding few makes the next twice as long. After each
    slice, when ``max_examined`` instances have been expanded and the page is not full, the
    walk stops there: the page is short and ``resume`` is that slice's end.
    """
    # Slices start on whole seconds (as instances do), so a resume position never splits one.
    start = start.replace(microsecond=0)
    begin = start if after is None else max(start, from_ts(after.start))
    t, examined, skipped = begin, 0, 0
    collected: list[Occurrence] = []
    whole = dt.timedelta(seconds=max(1, math.ceil((end - start).total_seconds())))
    span = min(max(dt.timedelta(seconds=int(span.total_seconds())), SECOND), whole)
    while t < end:
        if examined >= max_examined and t > begin:
            return Page(collected, True, Position(int(t.timestamp())), skipped, span)
        stop = min(t + span, end)
        need = want + 1 + skip - skipped - len(collected)
        room = max(2 * need, 64) if span > SECOND else store.limits.max_instances
        batch, spent = _slice(store, calendar_ids, t, stop, t == start, after, room)
        examined += spent
        if batch is None:  # far more than the page needs: a shorter slice
            if span <= SECOND:  # more than max_instances in one second
                raise TooManyMatches(f"more than {room} instances start in one second")
            span = max(dt.timedelta(seconds=int(span.total_seconds()) // 8), SECOND)
            continue
        batch.sort(key=lambda o: (o.position.start, o.record.public_id, o.instance.key))
        for occurrence in batch:
            if not accept(occurrence):
                continue
            if skipped < skip:
                skipped += 1
                continue
            collected.append(occurrence)
            if len(collected) > want:
                page = collected[:want]
                return Page(page, True, page[-1].position, skipped, span)
        t = stop
        if len(batch) < need:
            span = min(span * 2, whole)
    return Page(collected, False, None, skipped, span)


def _slice(store: CalendarStore, calendar_ids: Sequence[int], t: dt.datetime,
           stop: dt.datetime, first: bool, after: Position | None, room: int
           ) -> tuple[list[Occurrence] | None, int]:
    """The instances of [t, stop) after ``after`` (the first slice also takes those that began
    before ``t`` and reach into it), and how many were expanded; None for more than ``room``."""
    out: list[Occurrence] = []
    spent = 0
    for calendar_id in calendar_ids:
        for match in store.objects_in_window(calendar_id, int(t.timestamp()),
                                             int(stop.timestamp()) + 1):
            record = match.record
            try:
                found = some_instances(record.text, record.etag, t, stop, room)
            except LimitExceeded:
                raise
            except ValueError as exc:  # as in expand_occurrences
                logger.warning("cannot expand %s in calendar %s: %s", record.href, calendar_id,
                               exc)
                continue
            spent += len(found)
            if len(found) > room:
                return None, spent
            for instance in found:
                if not first and instance.start < t:
                    continue  # began in an earlier slice, which had it
                occurrence = Occurrence(record, instance)
                if after is not None and occurrence.position <= after:
                    continue
                out.append(occurrence)
            if len(out) > room:
                return None, spent
    return out, spent
