"""The objects repository: calendar objects, their index rows and the window queries.

Decisions:
- ``prepare`` does the CPU work (size check, parse, limits, envelope, index) before any lock
  is taken; the write transaction only checks preconditions and writes rows.
- The envelope comes from the same icalendar parse as the index (``bridge.core.envelope``),
  with Radicale's time_range semantics, so both doors store the same envelope.
- A window query returns objects the occurrence index proves, and those only the envelope
  admits (outside the materialized horizon, or not VEVENTs): the caller checks those.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import icalendar
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bridge.core.envelope import envelope as envelope_of
from bridge.core.etag import etag_of
from bridge.core.index import TIMESTAMP_MAX, InvalidObject, build_index, parse_object
from bridge.core.limits import check_dates
from bridge.core.recurrence import check_rules
from bridge.core.times import now_ts
from bridge.core.vcard import is_vcard, parse_vcard, vcard_index
from bridge.store import widening
from bridge.store.engine import Database
from bridge.store.records import (
    OBJECT_COLUMNS,
    CollectionRecord,
    Conflict,
    NotFound,
    ObjectRecord,
    PreconditionFailed,
    PreparedObject,
    StoreSettings,
    checked_path,
)
from bridge.store.rows import (
    check_kind,
    collection_row,
    lock_path,
    log_changes,
    object_rows,
    objects_by_id,
    put_row,
    widen_max_duration,
)
from bridge.store.schema import calendar_object, change, collection, occurrence
from bridge.store.sync import parse_token


@dataclass(frozen=True)
class WindowMatch:
    record: ObjectRecord
    proven: bool  # True: the occurrence index proves an instance overlaps the window


class Objects:
    """Reads and writes of calendar objects, over one database."""

    def __init__(self, db: Database, settings: StoreSettings) -> None:
        self.db = db
        self.settings = settings

    def prepare(self, text: str, envelope: tuple[int, int] | None = None,
                now: dt.datetime | None = None, *, check_limits: bool | None = None,
                parsed: icalendar.Calendar | None = None) -> PreparedObject:
        """Validate and index one object. ``envelope`` is the stored or Radicale's envelope if
        known, else computed from the same parse as the index (``bridge.core.envelope``);
        ``now`` places the rolling window (maintenance passes its own clock).

        Objects must keep within the settings' limits (times between C:min-date-time and
        C:max-date-time, finite rules of at most max_instances instances, no rule that never
        matches): a LimitExceeded or InvalidObject says which. By default that is checked when
        no envelope is given, i.e. for text the store sees first (REST, import); with an
        envelope the text comes from Radicale, whose PUT seam checked it, or from the store
        itself (re-indexing, where a lowered limit must never make a stored object fail).
        ``parsed`` is ``parse_object(text)`` when the caller has it already (one parse a write).
        """
        return prepare_object(self.settings, text, envelope, now, check_limits=check_limits,
                              parsed=parsed)

    def get(self, collection_id: int, hrefs: Sequence[str] | None = None
            ) -> list[ObjectRecord]:
        with self.db.read() as conn:
            return object_rows(conn, collection_id, hrefs)

    def by_public_id(self, public_id: str) -> ObjectRecord | None:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(*OBJECT_COLUMNS).where(calendar_object.c.public_id == public_id)
            ).mappings().first()
        return ObjectRecord.from_row(row) if row else None

    def texts(self, collection_id: int) -> list[str]:
        with self.db.read() as conn:
            return list(conn.execute(
                sa.select(calendar_object.c.text)
                .where(calendar_object.c.collection_id == collection_id)
                .order_by(calendar_object.c.href)).scalars())

    def summaries(self, collection_id: int) -> list[tuple[str, str, int, str]]:
        """(href, etag, last_modified, component) of every object, without loading any text."""
        with self.db.read() as conn:
            return [tuple(r) for r in conn.execute(
                sa.select(calendar_object.c.href, calendar_object.c.etag,
                          calendar_object.c.last_modified, calendar_object.c.component)
                .where(calendar_object.c.collection_id == collection_id)
                .order_by(calendar_object.c.href)
            )]

    def uid_hrefs(self, collection_id: int) -> dict[str, str]:
        """UID -> href of every object, without loading any text."""
        with self.db.read() as conn:
            return {uid: href for uid, href in conn.execute(
                sa.select(calendar_object.c.uid, calendar_object.c.href)
                .where(calendar_object.c.collection_id == collection_id))}

    def has_uid(self, collection_id: int, uid: str) -> bool:
        with self.db.read() as conn:
            return conn.execute(
                sa.select(calendar_object.c.id).where(
                    calendar_object.c.collection_id == collection_id,
                    calendar_object.c.uid == uid).limit(1)
            ).first() is not None

    def put(
        self,
        collection_id: int,
        href: str,
        prepared: PreparedObject,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> tuple[ObjectRecord, ObjectRecord | None]:
        """Create or replace one object; returns (new, old)."""
        with self.db.write(lock_path(self.db, collection_id)) as conn:
            check_kind(collection_row(conn, collection_id).tag, prepared)
            old = object_rows(conn, collection_id, [href])
            old_record = old[0] if old else None
            if if_none_match and old_record is not None:
                raise PreconditionFailed(f"{href} exists")
            if if_match is not None and (old_record is None or (
                    if_match != "*" and old_record.etag != if_match)):
                raise PreconditionFailed(f"{href} does not match {if_match}")
            clash = conn.execute(
                sa.select(calendar_object.c.href).where(
                    calendar_object.c.collection_id == collection_id,
                    calendar_object.c.uid == prepared.index.uid,
                    calendar_object.c.href != href).limit(1)
            ).first()
            if clash is not None:
                raise Conflict(f"UID {prepared.index.uid} is already used by {clash[0]}")
            record = put_row(conn, collection_id, href, prepared, old=old_record)
        return record, old_record

    def delete(self, collection_id: int, href: str, *, if_match: str | None = None
               ) -> ObjectRecord:
        with self.db.write(lock_path(self.db, collection_id)) as conn:
            old = object_rows(conn, collection_id, [href])
            if not old:
                raise NotFound(href)
            if if_match is not None and if_match != "*" and old[0].etag != if_match:
                raise PreconditionFailed(f"{href} does not match {if_match}")
            conn.execute(calendar_object.delete().where(calendar_object.c.id == old[0].id))
            log_changes(conn, collection_id, {href: old[0].public_id}, deleted=True)
            return old[0]

    def move(self, from_collection_id: int, href: str, to_collection_id: int,
             to_href: str) -> ObjectRecord:
        locks = lock_path(self.db, from_collection_id), lock_path(self.db, to_collection_id)
        with self.db.write(*locks) as conn:
            old = object_rows(conn, from_collection_id, [href])
            if not old:
                raise NotFound(href)
            record = old[0]
            target = object_rows(conn, to_collection_id, [checked_path(to_href)])
            if target:
                conn.execute(calendar_object.delete().where(calendar_object.c.id == target[0].id))
            conn.execute(
                calendar_object.update().where(calendar_object.c.id == record.id).values(
                    collection_id=to_collection_id, href=to_href, last_modified=now_ts())
            )
            conn.execute(occurrence.update().where(occurrence.c.object_id == record.id).values(
                collection_id=to_collection_id))
            widen_max_duration(conn, to_collection_id, from_collection_id)
            log_changes(conn, from_collection_id, {href: record.public_id}, deleted=True)
            log_changes(conn, to_collection_id, {to_href: record.public_id}, deleted=False,
                        created=True)
            return object_rows(conn, to_collection_id, [to_href])[0]

    def in_window(
        self, collection_id: int, start: int, end: int, component: str | None = "VEVENT"
    ) -> list[WindowMatch]:
        """Objects that may have an instance overlapping [start, end).

        ``proven`` objects have an occurrence in the window per the index. A series whose
        materialized span the window leaves is widened to reach it (``bridge.store.widening``):
        then it is proven, or left out when it has no instance there. The rest (not VEVENTs,
        series too dense to widen) overlap only by their envelope: the caller must check them.
        """
        with self.db.read() as conn:
            record = collection_row(conn, collection_id)
            proven_ids = set(conn.execute(
                sa.select(occurrence.c.object_id).where(
                    occurrence.c.collection_id == collection_id,
                    occurrence.c.start_ts < end,
                    occurrence.c.start_ts >= start - record.max_occurrence_seconds,
                    occurrence.c.end_ts > start,
                ).distinct()
            ).scalars())
            envelope = sa.and_(
                calendar_object.c.collection_id == collection_id,
                calendar_object.c.start_ts < end,
                calendar_object.c.end_ts > start,
            )
            if component is not None:
                envelope = sa.and_(envelope, calendar_object.c.component == component)
            unproven = sa.or_(
                calendar_object.c.indexed_until < end, calendar_object.c.indexed_from > start)
            undecided_ids = set(conn.execute(
                sa.select(calendar_object.c.id).where(envelope, unproven)).scalars())
            rows = objects_by_id(conn, proven_ids | undecided_ids)
            undecided_spans = widening.spans(conn, undecided_ids - proven_ids)
        plans = {}
        for row in rows:
            span = undecided_spans.get(row.id)
            if span is not None and (found := widening.plan(
                    row, span, start, end, self.settings.policy)) is not None:
                plans[row.id] = found
        widening.write(self.db, collection_id, list(plans.values()))
        matches = []
        for row in rows:
            if component is not None and row.component != component:
                continue
            if row.id in plans:
                if plans[row.id].hit:
                    matches.append(WindowMatch(row, True))
                continue  # decided: no instance in the window
            matches.append(WindowMatch(row, row.id in proven_ids))
        return matches

    def count(self, collection_id: int) -> int:
        with self.db.read() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(calendar_object).where(
                    calendar_object.c.collection_id == collection_id)
            ).scalar_one()


    def reindex(self, collection_id: int, href: str, etag: str,
                prepared: PreparedObject | None) -> bool:
        """Rewrite an object's index rows (the rolling horizon), unless its text changed since
        ``etag`` was read: that write indexed it already, and its text must not be undone.
        Not a change of the object, so nothing is logged and the revision stays. Without
        ``prepared`` (the text no longer indexes) the rows stay and the object never rolls."""
        with self.db.write(lock_path(self.db, collection_id)) as conn:
            old = object_rows(conn, collection_id, [href])
            if not old or old[0].etag != etag:
                return False
            if prepared is None:
                conn.execute(calendar_object.update().where(
                    calendar_object.c.id == old[0].id).values(reindex_at=TIMESTAMP_MAX))
            else:
                put_row(conn, collection_id, href, prepared, old=old[0], log=False)
            return True

    @contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """The snapshot's reads in the ambient read transaction (the request's connection), for
        an answer built before the call returns: no connection of its own to check out."""
        with self.db.read() as conn:
            yield Snapshot(conn)

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A read transaction on a connection of its own, not the ambient one: for a
        generator that outlives the call that made it (a streamed response body)."""
        with self.db.snapshot() as conn:
            yield Snapshot(conn)


class Snapshot:
    """Reads that all see the same state of the database (see CalendarStore.snapshot)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def collection(self, collection_id: int) -> CollectionRecord | None:
        row = self.conn.execute(
            sa.select(collection).where(collection.c.id == collection_id)).mappings().first()
        return CollectionRecord.from_row(row) if row else None

    def object_texts(self, collection_id: int, window: tuple[int, int] | None = None,
                     containing: str | None = None, batch: int = 500) -> Iterator[list[str]]:
        """The texts of a collection's objects in href order, ``batch`` at a time; with
        ``window`` (start, end) only objects whose envelope overlaps [start, end), with
        ``containing`` only texts that contain that string (a superset: case may differ)."""
        query = sa.select(calendar_object.c.text).where(
            calendar_object.c.collection_id == collection_id)
        if window is not None:
            query = query.where(calendar_object.c.start_ts < window[1],
                                calendar_object.c.end_ts > window[0])
        if containing is not None:
            query = query.where(calendar_object.c.text.contains(containing, autoescape=True))
        result = self.conn.execution_options(yield_per=batch).execute(
            query.order_by(calendar_object.c.href))
        for rows in result.partitions():
            yield [row[0] for row in rows]

    def sync_delta(self, collection_id: int, token: str) -> SyncDelta | None:
        """What a sync-collection answer holds after ``token`` (everything for an empty one),
        read in this snapshot; None if the collection is gone. A foreign, malformed or expired
        token raises (InvalidSyncToken / ExpiredSyncToken, both ValueErrors)."""
        record = self.collection(collection_id)
        if record is None:
            return None
        if not token:
            return SyncDelta(record.sync_token, None, [])
        since = parse_token(record, token)
        changed = sa.select(change.c.href).where(
            change.c.collection_id == collection_id, change.c.revision > since)
        present = sa.select(calendar_object.c.href).where(
            calendar_object.c.collection_id == collection_id)
        deleted = self.conn.execute(
            changed.where(change.c.href.not_in(present)).distinct().order_by(change.c.href)
        ).scalars().all()
        return SyncDelta(record.sync_token, since, list(deleted))

    def sync_rows(self, collection_id: int, since: int | None, with_text: bool,
                  batch: int = 500) -> Iterator[Sequence[sa.Row]]:
        """(href, etag, last_modified, component[, text]) of the objects changed after
        revision ``since`` (all of them when None), in href order, ``batch`` rows at a time."""
        columns = [calendar_object.c.href, calendar_object.c.etag,
                   calendar_object.c.last_modified, calendar_object.c.component]
        query = sa.select(*columns, *([calendar_object.c.text] if with_text else [])).where(
            calendar_object.c.collection_id == collection_id)
        if since is not None:
            query = query.where(calendar_object.c.href.in_(sa.select(change.c.href).where(
                change.c.collection_id == collection_id, change.c.revision > since)))
        result = self.conn.execution_options(yield_per=batch).execute(
            query.order_by(calendar_object.c.href))
        yield from result.partitions()


def prepare_object(settings: StoreSettings, text: str, envelope: tuple[int, int] | None = None,
                   now: dt.datetime | None = None, *, check_limits: bool | None = None,
                   parsed: icalendar.Calendar | None = None) -> PreparedObject:
    """``Objects.prepare`` without a store: CPU work only, so a process pool can run it."""
    if len(text.encode()) > settings.max_object_bytes:
        raise InvalidObject(f"object larger than {settings.max_object_bytes} bytes")
    if parsed is None and is_vcard(text):  # an address book's object: nothing to expand
        return PreparedObject(text=text, etag=etag_of(text), index=vcard_index(parse_vcard(text)))
    cal = parsed if parsed is not None else parse_object(text)
    if check_limits is None:
        check_limits = envelope is None
    if check_limits:  # before the envelope, which walks every instance of a finite rule
        check_dates(cal)
        check_rules(cal, settings.limits.max_instances)
    if envelope is None:
        envelope = envelope_of(cal)
    index = build_index(cal, envelope, now or dt.datetime.now(dt.UTC), settings.policy)
    return PreparedObject(text=text, etag=etag_of(text), index=index)


@dataclass(frozen=True)
class SyncDelta:
    """A sync-collection answer's frame: the token to hand out, the revision the client had
    (None: an initial sync, every object) and the hrefs deleted since then."""

    token: str
    since: int | None
    deleted: list[str]
