"""Idempotency keys of API writes: a retried POST gets the first answer back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa

from bridge.core.times import now_ts
from bridge.store.engine import Transactions
from bridge.store.schema import idempotency_key

RETENTION_SECONDS = 24 * 3600


@dataclass(frozen=True)
class StoredResponse:
    fingerprint: str
    status: int
    body: str
    headers: dict[str, str]


def fingerprint(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


class IdempotencyKeys:
    def __init__(self, db: Transactions) -> None:
        self.db = db

    @staticmethod
    def lock_path(token_id: int, key: str) -> str:
        """The write lock of one key of one token (a key may hold any character, even '/')."""
        return f".idempotency/{token_id}-{hashlib.sha256(key.encode()).hexdigest()[:32]}"

    def find(self, token_id: int, key: str) -> StoredResponse | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(idempotency_key).where(
                idempotency_key.c.token_id == token_id, idempotency_key.c.key == key,
                idempotency_key.c.created_at > now_ts() - RETENTION_SECONDS)).mappings().first()
        if row is None:
            return None
        return StoredResponse(row["fingerprint"], row["status"], row["body"],
                              dict(row["headers"]))

    def remember(self, token_id: int, key: str, response: StoredResponse) -> None:
        """Record the answer; joins the caller's write transaction, so the answer and the
        change it describes are committed together."""
        with self.db.write(".idempotency") as conn:
            conn.execute(idempotency_key.delete().where(
                idempotency_key.c.token_id == token_id, idempotency_key.c.key == key))
            conn.execute(idempotency_key.insert().values(
                token_id=token_id, key=key, fingerprint=response.fingerprint,
                status=response.status, body=response.body, headers=response.headers,
                created_at=now_ts()))
