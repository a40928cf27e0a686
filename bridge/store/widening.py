"""Widening the occurrence index on demand, so that the index answers windows far from now.

A recurring series is materialized around now (``IndexPolicy``); its object row records the
span where its occurrence rows are complete (``indexed_from``, ``indexed_until``). A window
that leaves that span (last year's calendar, a month three years ahead) finds the series
*undecided*. Rather than deciding it again on every query, the query widens the span.

Decisions:
- The span stays one interval, as the object row records it: it grows to reach the window, so
  the new rows are the series' instances between the old span and the window's far edge,
  computed by the bounded expander over the parse cached by etag (``bridge.core.expand``).
- At most ``max_per_series`` new rows per object and widening, and at most ``4 *
  max_per_series`` rows per object in all (the hard limit of materializing); past that (a
  dense series, a window decades away) nothing is written and the caller decides the object
  itself, per query, as before. Capped series and series that prove nothing (too dense to
  materialize at all) are not widened.
- The write is one short transaction under the collection's lock, beside the query's read
  transaction (``Database.side_write``); an object whose text or span changed since it was
  read is skipped (that writer's rows win).
- Widening changes no content: no revision, no change-log row, no getlastmodified. The rolling
  rebuild (maintenance) later resets the span to the horizon; a query widens it again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bridge.core.expand import some_instances
from bridge.core.index import TIMESTAMP_MAX, TIMESTAMP_MIN, IndexPolicy
from bridge.core.limits import LimitExceeded
from bridge.core.recurrence import Instance
from bridge.core.times import to_ts
from bridge.store.engine import Database
from bridge.store.records import ObjectRecord
from bridge.store.rows import lock_path
from bridge.store.schema import calendar_object, collection, occurrence


@dataclass(frozen=True)
class Span:
    """What the object row says of its occurrence rows."""

    object_id: int
    indexed_from: int
    indexed_until: int
    capped: bool
    rows: int  # occurrence rows the object has now


@dataclass(frozen=True)
class Widening:
    object_id: int
    etag: str
    old: tuple[int, int]
    new: tuple[int, int]
    rows: list[tuple[int, int]]  # (start, exclusive end) of the new occurrence rows
    hit: bool  # one of the new rows overlaps the window


def spans(conn: Connection, ids: Iterable[int]) -> dict[int, Span]:
    """The spans (and row counts) of the objects ``ids``."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    counts: dict[int, int] = {int(i): int(n) for i, n in conn.execute(
        sa.select(occurrence.c.object_id, sa.func.count())
        .where(occurrence.c.object_id.in_(wanted)).group_by(occurrence.c.object_id))}
    rows = conn.execute(sa.select(
        calendar_object.c.id, calendar_object.c.indexed_from, calendar_object.c.indexed_until,
        calendar_object.c.index_capped).where(calendar_object.c.id.in_(wanted))).all()
    return {r[0]: Span(r[0], r[1], r[2], bool(r[3]), counts.get(r[0], 0)) for r in rows}


def _instant(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _bounds(instance: Instance) -> tuple[int, int]:
    start = to_ts(instance.start)
    return start, max(to_ts(instance.end), start + 1)  # as build_index stores them


def plan(record: ObjectRecord, span: Span, start: int, end: int, policy: IndexPolicy
         ) -> Widening | None:
    """The rows that make ``record``'s span reach [start, end), or None when it is not widened
    (see the module's decisions)."""
    materialized = span.indexed_from < span.indexed_until
    if record.component != "VEVENT" or span.capped or not materialized:
        return None
    room = min(policy.max_per_series, 4 * policy.max_per_series - span.rows)
    if room <= 0:
        return None
    new_from, new_until = span.indexed_from, span.indexed_until
    found: list[tuple[int, int]] = []
    try:
        if start < span.indexed_from:
            new_from = start
            found += [b for b in map(_bounds, some_instances(
                record.text, record.etag, _instant(start), _instant(span.indexed_from), room))
                if b[1] <= span.indexed_from]  # those reaching into the span have their rows
        if end > span.indexed_until:
            new_until = end
            found += [b for b in map(_bounds, some_instances(
                record.text, record.etag, _instant(span.indexed_until), _instant(end), room))
                if b[0] >= span.indexed_until]
    except LimitExceeded:
        return None
    except ValueError:  # not readable here: the caller's own check decides
        return None
    if len(found) > room:
        return None
    if new_from <= record.start_ts:
        new_from = TIMESTAMP_MIN  # complete to the series' start
    if new_until >= record.end_ts:
        new_until = TIMESTAMP_MAX
    hit = any(s < end and e > start for s, e in found)
    return Widening(record.id, record.etag, (span.indexed_from, span.indexed_until),
                    (new_from, new_until), sorted(found), hit)


def write(db: Database, collection_id: int, widenings: Sequence[Widening]) -> int:
    """Store the widenings whose object is as it was read; how many were stored."""
    if not widenings:
        return 0
    stored = 0
    widest = 0
    with db.side_write(lock_path(db, collection_id)) as conn:
        for widening in widenings:
            result = conn.execute(calendar_object.update().where(
                calendar_object.c.id == widening.object_id,
                calendar_object.c.etag == widening.etag,
                calendar_object.c.indexed_from == widening.old[0],
                calendar_object.c.indexed_until == widening.old[1],
            ).values(indexed_from=widening.new[0], indexed_until=widening.new[1]))
            if result.rowcount != 1:
                continue
            stored += 1
            if widening.rows:
                conn.execute(occurrence.insert(), [
                    {"object_id": widening.object_id, "collection_id": collection_id,
                     "start_ts": s, "end_ts": e} for s, e in widening.rows])
                widest = max(widest, max(e - s for s, e in widening.rows))
        if widest:
            conn.execute(collection.update().where(
                collection.c.id == collection_id,
                collection.c.max_occurrence_seconds < widest,
            ).values(max_occurrence_seconds=widest))
    return stored
