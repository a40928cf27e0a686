"""The collections repository: calendars (and principals' folders) with their properties.

Decisions:
- A collection's path is its lock scope: every write of it or of its objects takes that lock.
- Replacing a collection (a whole-calendar PUT) keeps its id and logs its old objects as
  deleted, so a client's sync token stays valid across the replacement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bridge.core.times import now_ts
from bridge.store import notify, rows
from bridge.store.engine import Transactions, inserted_id
from bridge.store.records import (
    CollectionRecord,
    ObjectRecord,
    PreparedObject,
    PropertyPolicy,
    checked_path,
)
from bridge.store.schema import calendar_object, change, collection, occurrence


class Collections:
    """Reads and writes of collections, over one transaction provider."""

    def __init__(self, db: Transactions, property_policy: PropertyPolicy) -> None:
        self.db = db
        self.property_policy = property_policy

    def get(self, path: str) -> CollectionRecord | None:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(collection).where(collection.c.path == path.strip("/"))
            ).mappings().first()
        return CollectionRecord.from_row(row) if row else None

    def by_id(self, collection_id: int) -> CollectionRecord | None:
        if not 0 < collection_id < 2**63:
            return None  # no row can have it (and SQLite would refuse the number)
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(collection).where(collection.c.id == collection_id)
            ).mappings().first()
        return CollectionRecord.from_row(row) if row else None

    def children(self, path: str) -> list[CollectionRecord]:
        """Direct children of ``path`` ("" is the root: every principal)."""
        path = path.strip("/")
        depth = 0 if not path else path.count("/") + 1
        with self.db.read() as conn:
            query = sa.select(collection)
            if path:
                query = query.where(collection.c.path.startswith(path + "/", autoescape=True))
            rows = conn.execute(query.order_by(collection.c.path)).mappings().all()
        return [
            CollectionRecord.from_row(r) for r in rows if r["path"].count("/") == depth
        ]

    def create(
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
        path = checked_path(path.strip("/"))
        objects = list(objects or ())
        for _, prepared in objects:
            rows.check_kind((props or {}).get("tag", ""), prepared)
        with self.db.write(path) as conn:
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
                cid = inserted_id(conn.execute(
                    collection.insert().values(
                        path=path, owner=owner, tag=tag, props=dict(props or {}),
                        created_at=now, updated_at=now,
                        workspace_id=(workspace_id or rows.default_workspace(conn, owner))
                        if tag else None,
                    )
                ))
                replaced: dict[str, ObjectRecord] = {}
            else:
                cid = existing["id"]
                replaced = _emptied(conn, cid, props or {}, now)
            written: list[str] = []
            for href, prepared in objects:
                rows.put_row(conn, cid, href, prepared, replaced_public_ids={
                    r.uid: r.public_id for r in replaced.values()})
                written.append(href)
            record = rows.collection_row(conn, cid)
            if record.tag == "VCALENDAR":
                notify.note(conn, cid, record.revision, [(
                    "calendar.created" if existing is None else "calendar.updated", None)])
        return record, replaced, written

    def in_workspace(self, workspace_id: int) -> list[CollectionRecord]:
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(collection).where(collection.c.workspace_id == workspace_id,
                                            collection.c.tag == "VCALENDAR")
                .order_by(collection.c.id)).mappings().all()
        return [CollectionRecord.from_row(r) for r in rows]

    def set_props(self, collection_id: int, props: Mapping[str, str],
                  expected_revision: int | None = None) -> CollectionRecord:
        with self.db.write(rows.lock_path(self.db, collection_id)) as conn:
            current = rows.expect_revision(conn, collection_id, expected_revision)
            self.property_policy.check(current.props, props)
            conn.execute(
                collection.update().where(collection.c.id == collection_id).values(
                    props=dict(props), tag=props.get("tag", ""), updated_at=now_ts(),
                )
            )
            revision = rows.bump(conn, collection_id)
            if current.tag == "VCALENDAR" or props.get("tag") == "VCALENDAR":
                notify.note(conn, collection_id, revision, [("calendar.updated", None)])
            return rows.collection_row(conn, collection_id)

    def delete(self, collection_id: int, expected_revision: int | None = None) -> None:
        """Delete a collection, its objects and any collection below it."""
        with self.db.write(rows.lock_path(self.db, collection_id)) as conn:
            record = rows.expect_revision(conn, collection_id, expected_revision)
            below = conn.execute(
                sa.select(collection.c.id).where(
                    collection.c.path.startswith(record.path + "/", autoescape=True))
            ).scalars().all()
            ids = [collection_id, *below]
            # Heard before the rows go; push subscriptions go with their calendar.
            heard = {cid: notify.listeners(conn, cid) for cid in ids}
            conn.execute(occurrence.delete().where(occurrence.c.collection_id.in_(ids)))
            conn.execute(calendar_object.delete().where(calendar_object.c.collection_id.in_(ids)))
            conn.execute(change.delete().where(change.c.collection_id.in_(ids)))
            conn.execute(collection.delete().where(collection.c.id.in_(ids)))
            for cid, listeners in heard.items():
                if listeners is not None and listeners.webhook:
                    notify.note(conn, cid, record.revision, [("calendar.deleted", None)],
                                heard=dataclasses.replace(listeners, push=False))


def _emptied(conn: Connection, cid: int, props: Mapping[str, str], now: int
             ) -> dict[str, ObjectRecord]:
    """Collection ``cid`` with new ``props`` and no objects (each logged as deleted, so sync
    stays valid); the objects it held, by href."""
    replaced = {r.href: r for r in rows.object_rows(conn, cid)}
    if replaced:
        rows.log_changes(conn, cid, {h: r.public_id for h, r in replaced.items()}, deleted=True)
        conn.execute(calendar_object.delete().where(calendar_object.c.collection_id == cid))
    conn.execute(collection.update().where(collection.c.id == cid).values(
        tag=props.get("tag", ""), props=dict(props), updated_at=now))
    rows.bump(conn, cid)
    return replaced
