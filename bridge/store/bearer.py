"""Bearer secrets at rest (API tokens, feed tokens): ``<kind prefix><public prefix>_<secret>``.

Decisions:
- Only a SHA-256 of the secret is stored: the secrets carry 144+ random bits, so a fast hash is
  as safe as a slow one and costs nothing per request.
- The row is found by its public prefix, then the secret is compared in constant time; a missing
  row is compared against the hash of "" so that a miss takes as long as a wrong secret.
"""

from __future__ import annotations

import hashlib
import hmac

import sqlalchemy as sa

from bridge.store.engine import Transactions


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def row_for_secret(db: Transactions, table: sa.Table, kind_prefix: str, presented: str
                   ) -> sa.RowMapping | None:
    """The row of ``table`` whose prefix and secret match ``presented``, or None."""
    if not presented.startswith(kind_prefix):
        return None
    prefix, _, secret = presented[len(kind_prefix):].partition("_")
    with db.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.prefix == prefix)).mappings().first()
    expected = row["secret_hash"] if row is not None else secret_hash("")
    if not hmac.compare_digest(expected, secret_hash(secret)) or row is None:
        return None
    return row


def select_where(table: sa.Table, **equals: object) -> sa.Select[tuple[object, ...]]:
    """All rows of ``table`` in id order whose columns equal the given values (None: any)."""
    query = sa.select(table).order_by(table.c.id)
    for column, value in equals.items():
        if value is not None:
            query = query.where(table.c[column] == value)
    return query
