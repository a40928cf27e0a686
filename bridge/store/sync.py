"""Sync: what changed in a collection since a sync token, for both doors.

Decisions:
- A sync token is the collection's id and revision; the change log answers in O(changes).
- A token older than the collection's ``log_floor`` (maintenance prunes the log) is expired:
  the client syncs in full.
"""

from __future__ import annotations

import sqlalchemy as sa

from bridge.store.engine import Transactions
from bridge.store.records import (
    SYNC_TOKEN_PREFIX,
    CollectionRecord,
    ExpiredSyncToken,
    InvalidSyncToken,
    ObjectRecord,
    TooManyChanges,
)
from bridge.store.rows import collection_row, object_rows
from bridge.store.schema import calendar_object, change


class Sync:
    """The change log of collections, read over one transaction provider."""

    def __init__(self, db: Transactions) -> None:
        self.db = db

    def changes_since(self, collection_id: int, token: str) -> tuple[str, list[str]]:
        """The current sync token and the hrefs changed (or deleted) after ``token``.

        An empty token means "everything". Cost is O(changes) through the change log.
        """
        with self.db.read() as conn:
            record = collection_row(conn, collection_id)
            if not token:
                hrefs = conn.execute(
                    sa.select(calendar_object.c.href).where(
                        calendar_object.c.collection_id == collection_id)
                ).scalars().all()
                return record.sync_token, list(hrefs)
            since = parse_token(record, token)
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
        with self.db.read() as conn:
            record = collection_row(conn, collection_id)
            since = parse_token(record, token)
            rows = conn.execute(
                sa.select(change.c.href, change.c.public_id, change.c.deleted).where(
                    change.c.collection_id == collection_id, change.c.revision > since)
                .limit(max_changes + 1)
            ).all()
            if len(rows) > max_changes:
                raise TooManyChanges(f"more than {max_changes} changes since {token!r}")
            current = object_rows(conn, collection_id, sorted({r.href for r in rows}))
            present = {o.public_id for o in current}
            deleted = sorted({r.public_id for r in rows
                              if r.deleted and r.public_id and r.public_id not in present})
            return record.sync_token, current, deleted


def parse_token(record: CollectionRecord, token: str) -> int:
    """The revision a sync token of ``record`` names, refused if foreign, malformed or older
    than the retained change log."""
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
