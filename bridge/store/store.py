"""The calbridge store: the one write path for CalDAV and REST.

Every mutation runs in one transaction that validates the object, writes its text, rewrites
its index rows, bumps the collection revision and appends to the change log. Reads return
plain records built from columns; nothing is parsed to answer a question the index decides.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping

from bridge.core.envelope import envelope as envelope_of
from bridge.core.etag import etag_of
from bridge.core.index import (
    TIMESTAMP_MAX,
    IndexPolicy,
    InvalidObject,
    ObjectIndex,
    build_index,
    object_uid_and_component,
    parse_object,
)
from bridge.core.limits import Limits, check_dates
from bridge.core.recurrence import check_rules
from bridge.store import engine as engine_mod
from bridge.store.schema import (
    MAX_PATH_LENGTH,
    calendar_object,
    change,
    collection,
    occurrence,
    user_account,
)


def _checked_path(path: str) -> str:
    """``path`` (a collection path or an href), refused as bad input if no column holds it."""
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidObject(f"the path is longer than {MAX_PATH_LENGTH} characters")
    return path


SYNC_TOKEN_PREFIX = "http://radicale.org/ns/sync/cb-"


class StoreError(Exception):
    """Base of the store's errors; each door maps them to its own status codes."""


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    """A UID or path already taken."""


class PreconditionFailed(StoreError):
    """An If-Match / If-None-Match style expectation did not hold."""


class InvalidSyncToken(StoreError, ValueError):
    """Unknown, foreign or pruned sync token (Radicale answers valid-sync-token)."""


class ExpiredSyncToken(InvalidSyncToken):
    """A sync token older than the retained change log: the client must sync in full."""


class TooManyChanges(StoreError):
    """More changes since a sync token than one answer may carry: sync in full (paged)."""


class PropertyRefused(StoreError):
    """A collection property the store will not keep (nothing was written): too large
    (``too_large``), or refused by the check registered for its name."""

    def __init__(self, message: str, *, too_large: bool) -> None:
        super().__init__(message)
        self.too_large = too_large


def _props_bytes(props: Mapping[str, str]) -> int:
    return sum(len(k.encode()) + len(str(v).encode()) for k, v in props.items())


@dataclass
class PropertyPolicy:
    """Bounds on collection properties, and checks by property name. The checks are set by
    the composition root (the store knows no calendar semantics); one raises ValueError."""

    max_bytes: int = 64 * 1024
    max_total_bytes: int = 256 * 1024
    checks: dict[str, Callable[[str], object]] = field(default_factory=dict)

    def check(self, old: Mapping[str, str], new: Mapping[str, str]) -> None:
        """Only what changes is checked, so a value an older version stored never blocks a
        write that leaves it alone."""
        for name, value in new.items():
            if old.get(name) == value:
                continue
            if len(name.encode()) + len(str(value).encode()) > self.max_bytes:
                raise PropertyRefused(f"property {name} is larger than {self.max_bytes} bytes",
                                      too_large=True)
            check = self.checks.get(name)
            if check is not None:
                try:
                    check(str(value))
                except ValueError as exc:
                    raise PropertyRefused(f"property {name}: {exc}", too_large=False) from exc
        total = _props_bytes(new)
        if total > self.max_total_bytes and total > _props_bytes(old):
            raise PropertyRefused(f"the properties of a collection take at most "
                                  f"{self.max_total_bytes} bytes", too_large=True)


__all__ = ["Conflict", "InvalidObject", "InvalidSyncToken", "NotFound", "PreconditionFailed",
           "PropertyRefused"]


@dataclass(frozen=True)
class CollectionRecord:
    id: int
    path: str
    owner: str
    tag: str
    props: dict[str, str]
    revision: int
    log_floor: int
    max_occurrence_seconds: int
    created_at: int
    updated_at: int
    workspace_id: int | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> CollectionRecord:
        return cls(
            id=row["id"], path=row["path"], owner=row["owner"], tag=row["tag"] or "",
            props=dict(row["props"] or {}), revision=row["revision"],
            log_floor=row["log_floor"], max_occurrence_seconds=row["max_occurrence_seconds"],
            created_at=row["created_at"], updated_at=row["updated_at"],
            workspace_id=row["workspace_id"],
        )

    @property
    def etag(self) -> str:
        """Changes with every write to the collection or its properties (CalDAV getctag)."""
        return f'"cb-{self.id}-{self.revision}"'

    @property
    def sync_token(self) -> str:
        return f"{SYNC_TOKEN_PREFIX}{self.id}-{self.revision}"


@dataclass(frozen=True)
class ObjectRecord:
    id: int
    collection_id: int
    href: str
    uid: str
    public_id: str
    etag: str
    component: str
    text: str
    start_ts: int
    end_ts: int
    last_modified: int

    @classmethod
    def from_row(cls, row: RowMapping) -> ObjectRecord:
        return cls(**{k: row[k] for k in _OBJECT_FIELDS})


_OBJECT_FIELDS = (
    "id", "collection_id", "href", "uid", "public_id", "etag", "component", "text",
    "start_ts", "end_ts", "last_modified",
)
_OBJECT_COLUMNS = [calendar_object.c[k] for k in _OBJECT_FIELDS]


@dataclass(frozen=True)
class PreparedObject:
    """An object checked and indexed, ready to be written (work done outside the lock)."""

    text: str
    etag: str
    index: ObjectIndex


@dataclass(frozen=True)
class WindowMatch:
    record: ObjectRecord
    proven: bool  # True: the occurrence index proves an instance overlaps the window


def now_ts() -> int:
    return int(time.time())


class CalendarStore:
    """The store API shared by the Radicale adapter, the REST API and the CLI."""

    def __init__(self, engine: Engine, policy: IndexPolicy | None = None,
                 max_object_bytes: int = 10 * 1024 * 1024, limits: Limits | None = None) -> None:
        self.engine = engine
        self.policy = policy or IndexPolicy()
        self.max_object_bytes = max_object_bytes
        self.property_policy = PropertyPolicy()
        self.limits = limits or Limits()

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with engine_mod.transaction(self.engine, write=False) as tx:
            yield tx.conn

    @contextmanager
    def write(self, *lock_paths: str) -> Iterator[Connection]:
        with engine_mod.transaction(self.engine, write=True, lock_paths=lock_paths or ("",)) as tx:
            yield tx.conn

    # -- preparing objects (pure CPU, no lock held) ------------------------------------------

    def prepare(self, text: str, envelope: tuple[int, int] | None = None,
                now: dt.datetime | None = None, *,
                check_limits: bool | None = None) -> PreparedObject:
        """Validate and index one object. ``envelope`` is Radicale's time_range if known;
        ``now`` places the rolling window (maintenance passes its own clock).

        Objects must keep within ``self.limits`` (times between C:min-date-time and
        C:max-date-time, finite rules of at most max_instances instances, no rule that never
        matches): a LimitExceeded or InvalidObject says which. By default that is checked when
        no envelope is given, i.e. for text the store sees first (REST, import); with an
        envelope the text comes from Radicale, whose PUT seam checked it, or from the store
        itself (re-indexing, where a lowered limit must never make a stored object fail).
        """
        if len(text.encode()) > self.max_object_bytes:
            raise InvalidObject(f"object larger than {self.max_object_bytes} bytes")
        cal = parse_object(text)
        if check_limits is None:
            check_limits = envelope is None
        if check_limits:  # before the envelope: Radicale's walks every instance of finite rules
            check_dates(cal)
            check_rules(cal, self.limits.max_instances)
        if envelope is None:
            envelope = envelope_of(cal)
        index = build_index(cal, envelope, now or dt.datetime.now(dt.UTC), self.policy)
        return PreparedObject(text=text, etag=etag_of(text), index=index)

    # -- collections -------------------------------------------------------------------------

    def get_collection(self, path: str) -> CollectionRecord | None:
        with self.read() as conn:
            row = conn.execute(
                sa.select(collection).where(collection.c.path == path.strip("/"))
            ).mappings().first()
        return CollectionRecord.from_row(row) if row else None

    def get_collection_by_id(self, collection_id: int) -> CollectionRecord | None:
        if not 0 < collection_id < 2**63:
            return None  # no row can have it (and SQLite would refuse the number)
        with self.read() as conn:
            row = conn.execute(
                sa.select(collection).where(collection.c.id == collection_id)
            ).mappings().first()
        return CollectionRecord.from_row(row) if row else None

    def child_collections(self, path: str) -> list[CollectionRecord]:
        """Direct children of ``path`` ("" is the root: every principal)."""
        path = path.strip("/")
        depth = 0 if not path else path.count("/") + 1
        with self.read() as conn:
            query = sa.select(collection)
            if path:
                query = query.where(collection.c.path.startswith(path + "/", autoescape=True))
            rows = conn.execute(query.order_by(collection.c.path)).mappings().all()
        return [
            CollectionRecord.from_row(r) for r in rows if r["path"].count("/") == depth
        ]

    def create_collection(
        self,
        path: str,
        props: Mapping[str, str] | None = None,
        objects: Iterable[tuple[str, PreparedObject]] | None = None,
        workspace_id: int | None = None,
    ) -> tuple[CollectionRecord, dict[str, ObjectRecord], list[str]]:
        """Create ``path``; with ``props``, replace any existing collection atomically.

        Returns the collection, the objects it replaced and the hrefs written. A replaced
        collection keeps its id; its old objects are logged as deleted so sync stays valid.
        """
        path = _checked_path(path.strip("/"))
        with self.write(path) as conn:
            existing = conn.execute(
                sa.select(collection).where(collection.c.path == path)
            ).mappings().first()
            now = now_ts()
            if existing is not None and props is None:
                return CollectionRecord.from_row(existing), {}, []
            if props is not None:
                self.property_policy.check(dict(existing["props"] or {}) if existing else {},
                                           props)
            if existing is None:
                owner = path.split("/", 1)[0]
                tag = (props or {}).get("tag", "")
                cid = conn.execute(
                    collection.insert().values(
                        path=path, owner=owner, tag=tag, props=dict(props or {}),
                        created_at=now, updated_at=now,
                        workspace_id=(workspace_id or self._default_workspace(conn, owner))
                        if tag else None,
                    )
                ).inserted_primary_key[0]
                replaced: dict[str, ObjectRecord] = {}
            else:
                cid = existing["id"]
                replaced = {r.href: r for r in self._objects(conn, cid)}
                if replaced:
                    self._log_changes(conn, cid, {h: r.public_id for h, r in replaced.items()},
                                      deleted=True)
                    conn.execute(calendar_object.delete().where(
                        calendar_object.c.collection_id == cid))
                conn.execute(
                    collection.update().where(collection.c.id == cid).values(
                        tag=(props or {}).get("tag", ""), props=dict(props or {}), updated_at=now,
                    )
                )
                self._bump(conn, cid)
            written: list[str] = []
            for href, prepared in objects or ():
                self._put(conn, cid, href, prepared, replaced_public_ids={
                    r.uid: r.public_id for r in replaced.values()})
                written.append(href)
            record = self._collection(conn, cid)
        return record, replaced, written

    def calendars_in_workspace(self, workspace_id: int) -> list[CollectionRecord]:
        with self.read() as conn:
            rows = conn.execute(
                sa.select(collection).where(collection.c.workspace_id == workspace_id,
                                            collection.c.tag == "VCALENDAR")
                .order_by(collection.c.id)).mappings().all()
        return [CollectionRecord.from_row(r) for r in rows]

    def set_props(self, collection_id: int, props: Mapping[str, str],
                  expected_revision: int | None = None) -> CollectionRecord:
        with self.write(self._lock_path(collection_id)) as conn:
            current = self._expect_revision(conn, collection_id, expected_revision)
            self.property_policy.check(current.props, props)
            conn.execute(
                collection.update().where(collection.c.id == collection_id).values(
                    props=dict(props), tag=props.get("tag", ""), updated_at=now_ts(),
                )
            )
            self._bump(conn, collection_id)
            return self._collection(conn, collection_id)

    def delete_collection(self, collection_id: int, expected_revision: int | None = None
                          ) -> None:
        """Delete a collection, its objects and any collection below it."""
        with self.write(self._lock_path(collection_id)) as conn:
            record = self._expect_revision(conn, collection_id, expected_revision)
            below = conn.execute(
                sa.select(collection.c.id).where(
                    collection.c.path.startswith(record.path + "/", autoescape=True))
            ).scalars().all()
            ids = [collection_id, *below]
            conn.execute(occurrence.delete().where(occurrence.c.collection_id.in_(ids)))
            conn.execute(calendar_object.delete().where(calendar_object.c.collection_id.in_(ids)))
            conn.execute(change.delete().where(change.c.collection_id.in_(ids)))
            conn.execute(collection.delete().where(collection.c.id.in_(ids)))

    # -- objects -------------------------------------------------------------------------------

    def get_objects(self, collection_id: int, hrefs: Sequence[str] | None = None
                    ) -> list[ObjectRecord]:
        with self.read() as conn:
            return self._objects(conn, collection_id, hrefs)

    def get_object_by_public_id(self, public_id: str) -> ObjectRecord | None:
        with self.read() as conn:
            row = conn.execute(
                sa.select(*_OBJECT_COLUMNS).where(calendar_object.c.public_id == public_id)
            ).mappings().first()
        return ObjectRecord.from_row(row) if row else None

    def object_texts(self, collection_id: int) -> list[str]:
        with self.read() as conn:
            return list(conn.execute(
                sa.select(calendar_object.c.text)
                .where(calendar_object.c.collection_id == collection_id)
                .order_by(calendar_object.c.href)).scalars())

    def object_summaries(self, collection_id: int) -> list[tuple[str, str, int, str]]:
        """(href, etag, last_modified, component) of every object, without loading any text."""
        with self.read() as conn:
            return [tuple(r) for r in conn.execute(
                sa.select(calendar_object.c.href, calendar_object.c.etag,
                          calendar_object.c.last_modified, calendar_object.c.component)
                .where(calendar_object.c.collection_id == collection_id)
                .order_by(calendar_object.c.href)
            )]

    def has_uid(self, collection_id: int, uid: str) -> bool:
        with self.read() as conn:
            return conn.execute(
                sa.select(calendar_object.c.id).where(
                    calendar_object.c.collection_id == collection_id,
                    calendar_object.c.uid == uid).limit(1)
            ).first() is not None

    def put_object(
        self,
        collection_id: int,
        href: str,
        prepared: PreparedObject,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> tuple[ObjectRecord, ObjectRecord | None]:
        """Create or replace one object; returns (new, old)."""
        with self.write(self._lock_path(collection_id)) as conn:
            old = self._objects(conn, collection_id, [href])
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
            record = self._put(conn, collection_id, href, prepared, old=old_record)
        return record, old_record

    def delete_object(self, collection_id: int, href: str, *, if_match: str | None = None
                      ) -> ObjectRecord:
        with self.write(self._lock_path(collection_id)) as conn:
            old = self._objects(conn, collection_id, [href])
            if not old:
                raise NotFound(href)
            if if_match is not None and if_match != "*" and old[0].etag != if_match:
                raise PreconditionFailed(f"{href} does not match {if_match}")
            conn.execute(calendar_object.delete().where(calendar_object.c.id == old[0].id))
            self._log_changes(conn, collection_id, {href: old[0].public_id}, deleted=True)
            return old[0]

    def move_object(self, from_collection_id: int, href: str, to_collection_id: int,
                    to_href: str) -> ObjectRecord:
        with self.write(self._lock_path(from_collection_id), self._lock_path(to_collection_id)
                        ) as conn:
            old = self._objects(conn, from_collection_id, [href])
            if not old:
                raise NotFound(href)
            record = old[0]
            target = self._objects(conn, to_collection_id, [_checked_path(to_href)])
            if target:
                conn.execute(calendar_object.delete().where(calendar_object.c.id == target[0].id))
            conn.execute(
                calendar_object.update().where(calendar_object.c.id == record.id).values(
                    collection_id=to_collection_id, href=to_href, last_modified=now_ts())
            )
            conn.execute(occurrence.update().where(occurrence.c.object_id == record.id).values(
                collection_id=to_collection_id))
            self._widen_max_duration(conn, to_collection_id, from_collection_id)
            self._log_changes(conn, from_collection_id, {href: record.public_id}, deleted=True)
            self._log_changes(conn, to_collection_id, {to_href: record.public_id},
                              deleted=False)
            return self._objects(conn, to_collection_id, [to_href])[0]

    # -- queries -------------------------------------------------------------------------------

    def changes_since(self, collection_id: int, token: str) -> tuple[str, list[str]]:
        """The current sync token and the hrefs changed (or deleted) after ``token``.

        An empty token means "everything". Cost is O(changes) through the change log.
        """
        with self.read() as conn:
            record = self._collection(conn, collection_id)
            if not token:
                hrefs = conn.execute(
                    sa.select(calendar_object.c.href).where(
                        calendar_object.c.collection_id == collection_id)
                ).scalars().all()
                return record.sync_token, list(hrefs)
            since = self._parse_token(record, token)
            hrefs = conn.execute(
                sa.select(change.c.href).where(
                    change.c.collection_id == collection_id, change.c.revision > since
                ).distinct()
            ).scalars().all()
            return record.sync_token, list(hrefs)

    def changed_objects(self, collection_id: int, token: str, max_changes: int
                        ) -> tuple[str, list[ObjectRecord], list[str]]:
        """The current sync token, the objects changed after ``token`` (as they are now) and
        the public ids of those deleted since, for the REST door. O(changes), at most
        ``max_changes`` log rows (else TooManyChanges)."""
        with self.read() as conn:
            record = self._collection(conn, collection_id)
            since = self._parse_token(record, token)
            rows = conn.execute(
                sa.select(change.c.href, change.c.public_id, change.c.deleted).where(
                    change.c.collection_id == collection_id, change.c.revision > since)
                .limit(max_changes + 1)
            ).all()
            if len(rows) > max_changes:
                raise TooManyChanges(f"more than {max_changes} changes since {token!r}")
            current = self._objects(conn, collection_id, sorted({r.href for r in rows}))
            present = {o.public_id for o in current}
            deleted = sorted({r.public_id for r in rows
                              if r.deleted and r.public_id and r.public_id not in present})
            return record.sync_token, current, deleted

    def objects_in_window(
        self, collection_id: int, start: int, end: int, component: str | None = "VEVENT"
    ) -> list[WindowMatch]:
        """Objects that may have an instance overlapping [start, end).

        ``proven`` objects have an occurrence in the window per the index. The rest lie outside
        the materialized horizon (or are not VEVENTs) and overlap only by their envelope: the
        caller must check them.
        """
        with self.read() as conn:
            record = self._collection(conn, collection_id)
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
            ids = proven_ids | undecided_ids
            rows = self._objects_by_id(conn, ids)
        matches = []
        for row in rows:
            if component is not None and row.component != component:
                continue
            matches.append(WindowMatch(row, row.id in proven_ids))
        return matches

    def count_objects(self, collection_id: int) -> int:
        with self.read() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(calendar_object).where(
                    calendar_object.c.collection_id == collection_id)
            ).scalar_one()

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A read transaction on a connection of its own, not the ambient one: for a
        generator that outlives the call that made it (a streamed response body)."""
        conn = self.engine.connect().execution_options(calbridge_write=False)
        try:
            with conn.begin():
                yield Snapshot(conn)
        finally:
            conn.close()

    # -- maintenance ---------------------------------------------------------------------------

    def reindex(self, collection_id: int, href: str, etag: str,
                prepared: PreparedObject | None) -> bool:
        """Rewrite an object's index rows (the rolling horizon), unless its text changed since
        ``etag`` was read: that write indexed it already, and its text must not be undone.
        Not a change of the object, so nothing is logged and the revision stays. Without
        ``prepared`` (the text no longer indexes) the rows stay and the object never rolls."""
        with self.write(self._lock_path(collection_id)) as conn:
            old = self._objects(conn, collection_id, [href])
            if not old or old[0].etag != etag:
                return False
            if prepared is None:
                conn.execute(calendar_object.update().where(
                    calendar_object.c.id == old[0].id).values(reindex_at=TIMESTAMP_MAX))
            else:
                self._put(conn, collection_id, href, prepared, old=old[0], log=False)
            return True

    # -- internals -------------------------------------------------------------------------------

    def _expect_revision(self, conn: Connection, collection_id: int,
                         expected_revision: int | None) -> CollectionRecord:
        record = self._collection(conn, collection_id)
        if expected_revision is not None and record.revision != expected_revision:
            raise PreconditionFailed(f"collection {collection_id} changed")
        return record

    @staticmethod
    def _default_workspace(conn: Connection, username: str) -> int | None:
        return conn.execute(sa.select(user_account.c.default_workspace_id).where(
            user_account.c.username == username)).scalar()

    def _lock_path(self, collection_id: int) -> str:
        with self.read() as conn:
            path = conn.execute(
                sa.select(collection.c.path).where(collection.c.id == collection_id)
            ).scalar()
        if path is None:
            raise NotFound(f"collection {collection_id}")
        return path

    def _collection(self, conn: Connection, collection_id: int) -> CollectionRecord:
        row = conn.execute(
            sa.select(collection).where(collection.c.id == collection_id)
        ).mappings().first()
        if row is None:
            raise NotFound(f"collection {collection_id}")
        return CollectionRecord.from_row(row)

    def _objects(self, conn: Connection, collection_id: int,
                 hrefs: Sequence[str] | None = None) -> list[ObjectRecord]:
        query = sa.select(*_OBJECT_COLUMNS).where(
            calendar_object.c.collection_id == collection_id)
        if hrefs is not None:
            hrefs = list(dict.fromkeys(hrefs))
            if not hrefs:
                return []
            out: list[ObjectRecord] = []
            for i in range(0, len(hrefs), 500):
                out.extend(ObjectRecord.from_row(r) for r in conn.execute(
                    query.where(calendar_object.c.href.in_(hrefs[i:i + 500]))).mappings())
            return out
        return [ObjectRecord.from_row(r) for r in
                conn.execute(query.order_by(calendar_object.c.href)).mappings()]

    def _objects_by_id(self, conn: Connection, ids: set[int]) -> list[ObjectRecord]:
        out: list[ObjectRecord] = []
        id_list = sorted(ids)
        for i in range(0, len(id_list), 500):
            out.extend(ObjectRecord.from_row(r) for r in conn.execute(
                sa.select(*_OBJECT_COLUMNS).where(calendar_object.c.id.in_(id_list[i:i + 500]))
            ).mappings())
        out.sort(key=lambda r: r.href)
        return out

    def _bump(self, conn: Connection, collection_id: int) -> int:
        """Allocate this transaction's revision of the collection (once per transaction)."""
        tx = engine_mod._current.get()
        assert tx is not None and tx.write
        if collection_id in tx.revisions:
            return tx.revisions[collection_id]
        conn.execute(
            collection.update().where(collection.c.id == collection_id).values(
                revision=collection.c.revision + 1, updated_at=now_ts())
        )
        revision = conn.execute(
            sa.select(collection.c.revision).where(collection.c.id == collection_id)
        ).scalar_one()
        tx.revisions[collection_id] = revision
        return revision

    def _log_changes(self, conn: Connection, collection_id: int,
                     hrefs: Mapping[str, str | None], deleted: bool) -> None:
        """Log ``hrefs`` (href -> the object's public id) as changed or deleted."""
        revision = self._bump(conn, collection_id)
        now = now_ts()
        rows = [{"collection_id": collection_id, "revision": revision, "href": h,
                 "deleted": deleted, "changed_at": now, "public_id": p}
                for h, p in hrefs.items()]
        if rows:
            conn.execute(change.insert(), rows)

    def _widen_max_duration(self, conn: Connection, collection_id: int,
                            from_collection_id: int) -> None:
        source = conn.execute(sa.select(collection.c.max_occurrence_seconds).where(
            collection.c.id == from_collection_id)).scalar_one()
        conn.execute(collection.update().where(
            collection.c.id == collection_id,
            collection.c.max_occurrence_seconds < source).values(max_occurrence_seconds=source))

    def _put(self, conn: Connection, collection_id: int, href: str, prepared: PreparedObject,
             old: ObjectRecord | None = None, replaced_public_ids: Mapping[str, str] | None = None,
             log: bool = True) -> ObjectRecord:
        _checked_path(href)
        index = prepared.index
        now = now_ts()
        values: dict[str, Any] = {
            "uid": index.uid, "etag": prepared.etag, "component": index.component,
            "text": prepared.text, "start_ts": index.start_ts, "end_ts": index.end_ts,
            "indexed_from": index.indexed_from, "indexed_until": index.indexed_until,
            "reindex_at": index.reindex_at, "index_capped": index.capped,
        }
        if old is None or log:  # a re-index changes no content: getlastmodified stays
            values["last_modified"] = now
        if old is not None:
            object_id = old.id
            public_id = old.public_id
            if old.uid != index.uid:  # another event at the same href: the old one is gone
                public_id = values["public_id"] = str(uuid.uuid4())
                if log:
                    self._log_changes(conn, collection_id, {href: old.public_id}, deleted=True)
            conn.execute(calendar_object.update().where(
                calendar_object.c.id == object_id).values(**values))
            conn.execute(occurrence.delete().where(occurrence.c.object_id == object_id))
        else:
            public_id = (replaced_public_ids or {}).get(index.uid) or str(uuid.uuid4())
            object_id = conn.execute(calendar_object.insert().values(
                collection_id=collection_id, href=href, public_id=public_id, **values)
            ).inserted_primary_key[0]
        if index.occurrences:
            conn.execute(occurrence.insert(), [
                {"object_id": object_id, "collection_id": collection_id, "start_ts": s,
                 "end_ts": e} for s, e in index.occurrences])
            conn.execute(collection.update().where(
                collection.c.id == collection_id,
                collection.c.max_occurrence_seconds < index.max_duration,
            ).values(max_occurrence_seconds=index.max_duration))
        if log:
            self._log_changes(conn, collection_id, {href: public_id}, deleted=False)
        return self._objects(conn, collection_id, [href])[0]

    @staticmethod
    def _parse_token(record: CollectionRecord, token: str) -> int:
        if not token.startswith(SYNC_TOKEN_PREFIX):
            raise InvalidSyncToken(f"unknown sync token {token!r}")
        try:
            cid_text, rev_text = token[len(SYNC_TOKEN_PREFIX):].split("-", 1)
            cid, revision = int(cid_text), int(rev_text)
        except ValueError as exc:
            raise InvalidSyncToken(f"malformed sync token {token!r}") from exc
        if cid != record.id or revision > record.revision:
            raise InvalidSyncToken(f"sync token {token!r} is not of this collection")
        if revision < record.log_floor:
            raise ExpiredSyncToken(f"sync token {token!r} is older than the change log")
        return revision


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


def uid_of(text: str) -> str:
    return object_uid_and_component(parse_object(text))[0]

