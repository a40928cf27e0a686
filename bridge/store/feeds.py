"""Feed tokens: the secrets in a calendar's subscription URLs (``/ics/<token>.ics``).

A token is ``cbf_<prefix>_<secret>``: the prefix (48 bits, public) finds the row, the secret
(192 random bits) is stored only as a SHA-256 hash and compared in constant time. With that
much entropy a fast hash is as safe as a slow one, and a feed poll must stay cheap.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from bridge.core.times import now_ts
from bridge.store.bearer import row_for_secret, secret_hash
from bridge.store.engine import Transactions, inserted_id
from bridge.store.records import Conflict, NotFound
from bridge.store.schema import collection, feed_token

FEED_KINDS = ("full", "freebusy")
FEED_TOKEN_PREFIX = "cbf_"
MAX_WINDOW_DAYS = 3660
# last_used_at is written at most this often per feed: a poll must not become a write.
LAST_USED_GRANULARITY = 300
_LOCK = ".feeds"


@dataclass(frozen=True)
class FeedToken:
    """A feed's record (never its secret)."""

    id: int
    calendar_id: int
    kind: str
    prefix: str
    window_past_days: int | None
    window_future_days: int | None
    created_at: int
    revoked_at: int | None
    last_used_at: int | None
    include_private: bool = False  # full feeds: publish alarms, attendees and organizers

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> FeedToken:
        return cls(id=row["id"], calendar_id=row["collection_id"], kind=row["kind"],
                   prefix=row["prefix"], window_past_days=row["window_past_days"],
                   window_future_days=row["window_future_days"], created_at=row["created_at"],
                   revoked_at=row["revoked_at"], last_used_at=row["last_used_at"],
                   include_private=bool(row["include_private"]))

    @property
    def masked_token(self) -> str:
        """What listings show: the public part only."""
        return f"{FEED_TOKEN_PREFIX}{self.prefix}_…"


def _new_secret() -> tuple[str, str]:
    """(prefix, secret) of a new token."""
    return secrets.token_hex(6), secrets.token_urlsafe(24)


def _token(prefix: str, secret: str) -> str:
    return f"{FEED_TOKEN_PREFIX}{prefix}_{secret}"


def _check_window(kind: str, past_days: int | None, future_days: int | None,
                  include_private: bool = False) -> None:
    if kind not in FEED_KINDS:
        raise ValueError(f"a feed kind is one of {', '.join(FEED_KINDS)}")
    if include_private and kind != "full":
        raise ValueError("include_private applies to full feeds only")
    for days in (past_days, future_days):
        if days is not None and not 0 <= days <= MAX_WINDOW_DAYS:
            raise ValueError(f"window days are between 0 and {MAX_WINDOW_DAYS}")


class FeedTokens:
    """Create, list, rotate, revoke and resolve the feed tokens of calendars."""

    def __init__(self, db: Transactions) -> None:
        self.db = db

    def create(self, calendar_id: int, kind: str = "full", window_past_days: int | None = None,
               window_future_days: int | None = None, include_private: bool = False
               ) -> tuple[str, FeedToken]:
        """A new feed; returns (the token, shown only now, and its record)."""
        _check_window(kind, window_past_days, window_future_days, include_private)
        prefix, secret = _new_secret()
        with self.db.write(_LOCK) as conn:
            exists = conn.execute(sa.select(collection.c.id).where(
                collection.c.id == calendar_id)).first()
            if exists is None:
                raise NotFound(f"calendar {calendar_id}")
            feed_id = inserted_id(conn.execute(feed_token.insert().values(
                collection_id=calendar_id, kind=kind, prefix=prefix,
                secret_hash=secret_hash(secret), window_past_days=window_past_days,
                window_future_days=window_future_days, include_private=include_private,
                created_at=now_ts(),
            )))
            record = self._get(conn, feed_id)
        assert record is not None
        return _token(prefix, secret), record

    def list(self, calendar_id: int) -> list[FeedToken]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(feed_token).where(
                feed_token.c.collection_id == calendar_id).order_by(feed_token.c.id)).mappings()
            return [FeedToken.from_row(r) for r in rows]

    def get(self, feed_id: int) -> FeedToken | None:
        with self.db.read() as conn:
            return self._get(conn, feed_id)

    def rotate(self, feed_id: int) -> tuple[str, FeedToken]:
        """A new token for the feed (same id, kind and window); the old one stops working."""
        prefix, secret = _new_secret()
        with self.db.write(_LOCK) as conn:
            current = self._get(conn, feed_id)
            if current is None:
                raise NotFound(f"feed {feed_id}")
            if current.revoked_at is not None:
                raise Conflict(f"feed {feed_id} is revoked; create a new one")
            conn.execute(feed_token.update().where(feed_token.c.id == feed_id).values(
                prefix=prefix, secret_hash=secret_hash(secret), last_used_at=None))
            record = self._get(conn, feed_id)
        assert record is not None
        return _token(prefix, secret), record

    def revoke(self, feed_id: int) -> FeedToken:
        """Revoke at once (idempotent): the URL answers 404 from now on."""
        with self.db.write(_LOCK) as conn:
            conn.execute(feed_token.update().where(
                feed_token.c.id == feed_id, feed_token.c.revoked_at.is_(None)
            ).values(revoked_at=now_ts()))
            record = self._get(conn, feed_id)
        if record is None:
            raise NotFound(f"feed {feed_id}")
        return record

    def resolve(self, presented: str) -> FeedToken | None:
        """The live feed of ``presented``, or None; the secret is compared in constant time."""
        row = row_for_secret(self.db, feed_token, FEED_TOKEN_PREFIX, presented)
        if row is None:
            return None
        record = FeedToken.from_row(row)
        if record.revoked_at is not None:
            return None
        now = now_ts()
        if record.last_used_at is None or record.last_used_at <= now - LAST_USED_GRANULARITY:
            with self.db.write(_LOCK) as conn:
                conn.execute(feed_token.update().where(feed_token.c.id == record.id).values(
                    last_used_at=now))
        return record

    @staticmethod
    def _get(conn: sa.Connection, feed_id: int) -> FeedToken | None:
        row = conn.execute(sa.select(feed_token).where(feed_token.c.id == feed_id)
                           ).mappings().first()
        return FeedToken.from_row(row) if row else None
