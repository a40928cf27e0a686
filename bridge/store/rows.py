"""Row-level steps shared by the repositories, each inside the caller's transaction.

Decisions:
- Every write of an object goes through ``put_row``: text, index rows, the collection's
  widest occurrence, the revision and the change log move together.
- A transaction allocates at most one revision per collection (``bump``), however many
  objects it writes: a sync token names a whole transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bridge.core.index import InvalidObject
from bridge.core.times import now_ts
from bridge.core.vcard import VCARD
from bridge.store import notify
from bridge.store.engine import Transactions, current_transaction, inserted_id
from bridge.store.records import (
    OBJECT_COLUMNS,
    CollectionRecord,
    NotFound,
    ObjectRecord,
    PreconditionFailed,
    PreparedObject,
    checked_path,
)
from bridge.store.schema import calendar_object, change, collection, occurrence, user_account


def check_kind(tag: str, prepared: PreparedObject) -> None:
    """vCards live in address books, iCalendar objects in calendars (and in untyped
    collections, as Radicale's storage allows): anything else is refused, nothing written."""
    is_card = prepared.index.component == VCARD
    if (tag == "VADDRESSBOOK") != is_card and (is_card or tag != ""):
        kind = "a vCard" if is_card else "an iCalendar object"
        raise InvalidObject(f"{kind} cannot be stored in a {tag or 'plain'} collection")


def expect_revision(conn: Connection, collection_id: int,
                    expected_revision: int | None) -> CollectionRecord:
    record = collection_row(conn, collection_id)
    if expected_revision is not None and record.revision != expected_revision:
        raise PreconditionFailed(f"collection {collection_id} changed")
    return record


def default_workspace(conn: Connection, username: str) -> int | None:
    return conn.execute(sa.select(user_account.c.default_workspace_id).where(
        user_account.c.username == username)).scalar()


def lock_path(db: Transactions, collection_id: int) -> str:
    """The lock scope of a collection (its path), read before the write that takes it."""
    with db.read() as conn:
        path = conn.execute(
            sa.select(collection.c.path).where(collection.c.id == collection_id)
        ).scalar()
    if path is None:
        raise NotFound(f"collection {collection_id}")
    return path


def collection_row(conn: Connection, collection_id: int) -> CollectionRecord:
    row = conn.execute(
        sa.select(collection).where(collection.c.id == collection_id)
    ).mappings().first()
    if row is None:
        raise NotFound(f"collection {collection_id}")
    return CollectionRecord.from_row(row)


def object_rows(conn: Connection, collection_id: int,
                hrefs: Sequence[str] | None = None) -> list[ObjectRecord]:
    query = sa.select(*OBJECT_COLUMNS).where(
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


def objects_by_id(conn: Connection, ids: set[int]) -> list[ObjectRecord]:
    out: list[ObjectRecord] = []
    id_list = sorted(ids)
    for i in range(0, len(id_list), 500):
        out.extend(ObjectRecord.from_row(r) for r in conn.execute(
            sa.select(*OBJECT_COLUMNS).where(calendar_object.c.id.in_(id_list[i:i + 500]))
        ).mappings())
    out.sort(key=lambda r: r.href)
    return out


def bump(conn: Connection, collection_id: int) -> int:
    """Allocate this transaction's revision of the collection (once per transaction)."""
    tx = current_transaction()
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


def log_changes(conn: Connection, collection_id: int,
                hrefs: Mapping[str, str | None], deleted: bool, created: bool = False) -> None:
    """Log ``hrefs`` (href -> the object's public id) as changed (``created``: new here) or
    deleted, with a notice for whoever listens (bridge/store/notify.py)."""
    revision = bump(conn, collection_id)
    now = now_ts()
    rows = [{"collection_id": collection_id, "revision": revision, "href": h,
             "deleted": deleted, "changed_at": now, "public_id": p}
            for h, p in hrefs.items()]
    if rows:
        conn.execute(change.insert(), rows)
        kind = "event.deleted" if deleted else "event.created" if created else "event.updated"
        notify.note(conn, collection_id, revision, [(kind, p) for p in hrefs.values()])


def widen_max_duration(conn: Connection, collection_id: int,
                       from_collection_id: int) -> None:
    source = conn.execute(sa.select(collection.c.max_occurrence_seconds).where(
        collection.c.id == from_collection_id)).scalar_one()
    conn.execute(collection.update().where(
        collection.c.id == collection_id,
        collection.c.max_occurrence_seconds < source).values(max_occurrence_seconds=source))


def put_row(conn: Connection, collection_id: int, href: str, prepared: PreparedObject,
            old: ObjectRecord | None = None,
            replaced_public_ids: Mapping[str, str] | None = None,
            log: bool = True) -> ObjectRecord:
    """Insert or replace the object at ``href`` with its index rows; ``log=False`` for a
    re-index, which changes no content (no revision, no change row)."""
    checked_path(href)
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
                log_changes(conn, collection_id, {href: old.public_id}, deleted=True)
        conn.execute(calendar_object.update().where(
            calendar_object.c.id == object_id).values(**values))
        conn.execute(occurrence.delete().where(occurrence.c.object_id == object_id))
    else:
        public_id = (replaced_public_ids or {}).get(index.uid) or str(uuid.uuid4())
        object_id = inserted_id(conn.execute(calendar_object.insert().values(
            collection_id=collection_id, href=href, public_id=public_id, **values)
        ))
    if index.occurrences:
        conn.execute(occurrence.insert(), [
            {"object_id": object_id, "collection_id": collection_id, "start_ts": s,
             "end_ts": e} for s, e in index.occurrences])
        conn.execute(collection.update().where(
            collection.c.id == collection_id,
            collection.c.max_occurrence_seconds < index.max_duration,
        ).values(max_occurrence_seconds=index.max_duration))
    if log:
        log_changes(conn, collection_id, {href: public_id}, deleted=False,
                    created=old is None or old.uid != index.uid)
    return object_rows(conn, collection_id, [href])[0]
