"""Queues whose rows are claimed with a lease (the mail outbox, webhook deliveries): a row is
due when queued and its time has come, or when the lease of the sender that took it ran out
(that sender died); claiming one counts an attempt, so a row that keeps killing its sender is
given up like one that keeps failing."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def lapsed(table: sa.Table, now: int) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.status == "sending", table.c.claimed_until < now)


def due(table: sa.Table, now: int) -> sa.ColumnElement[bool]:
    return sa.or_(sa.and_(table.c.status == "queued", table.c.next_attempt_at <= now),
                  lapsed(table, now))


def claim(conn: Connection, table: sa.Table, ids: Sequence[int], now: int,
          lease_seconds: int) -> list[int]:
    """Take those of ``ids`` still due (another process may have been first)."""
    claimed = []
    for row_id in ids:
        taken = conn.execute(table.update().where(table.c.id == row_id, due(table, now)).values(
            status="sending", claimed_until=now + lease_seconds, attempts=table.c.attempts + 1))
        if taken.rowcount == 1:
            claimed.append(row_id)
    return claimed
