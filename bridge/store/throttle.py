"""Failed-login throttling, kept in the database so that every server process sees the same
counts.

A login is blocked on the pair it failed for: (client address, user) on CalDAV, (client
address, token prefix) on REST. Guessing alice's password from one address never refuses
alice from another address, nor bob from the same one. An address-wide count with a much
higher limit stops one address spraying guesses over many users; everyone behind a reverse
proxy shares it unless ``server.trusted_proxies`` names the proxy. Failures per user across
addresses are not counted: refusing on them would let anyone lock any user out, and each
failure already costs the guesser Radicale's auth delay.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa

from bridge.core.times import now_ts
from bridge.store.engine import Transactions
from bridge.store.schema import auth_failure

ADDRESS_KEY = "addr:"
PAIR_KEY = "pair:"


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 20  # per (address, user) or (address, token prefix)
    window_seconds: int = 300
    max_failures_per_address: int = 200


def _fitting(key: str) -> str:
    """``key`` as stored: one that does not fit the column (a client chooses the user name
    and the forwarded address) is replaced by its digest, keeping its kind."""
    column_type = auth_failure.c.key.type
    assert isinstance(column_type, sa.String) and column_type.length is not None
    if len(key) <= column_type.length:
        return key
    kind = PAIR_KEY if key.startswith(PAIR_KEY) else ADDRESS_KEY
    return kind + hashlib.sha256(key.encode()).hexdigest()


class LoginThrottle:
    def __init__(self, db: Transactions, policy: ThrottlePolicy | None = None) -> None:
        self.db = db
        self.policy = policy or ThrottlePolicy()

    @staticmethod
    def keys(address: str | None, username: str | None = None,
             token_prefix: str | None = None) -> list[str]:
        """The counters a login attempt touches: its address, and its (address, user) or
        (address, token prefix) pair."""
        address = address or "unknown"
        keys = [ADDRESS_KEY + address]
        if username:
            keys.append(f"{PAIR_KEY}{address} user:{username}")
        if token_prefix:
            keys.append(f"{PAIR_KEY}{address} token:{token_prefix}")
        return [_fitting(k) for k in keys]

    def _limit(self, key: str) -> int:
        return (self.policy.max_failures if key.startswith(PAIR_KEY)
                else self.policy.max_failures_per_address)

    def retry_after(self, keys: list[str]) -> int:
        """Seconds until these keys may try again; 0 when they may now."""
        if not keys:
            return 0
        now = now_ts()
        with self.db.read() as conn:
            rows = conn.execute(sa.select(auth_failure).where(auth_failure.c.key.in_(keys))
                                ).mappings().all()
        wait = 0
        for row in rows:
            ends = row["window_start"] + self.policy.window_seconds
            if row["count"] >= self._limit(row["key"]) and ends > now:
                wait = max(wait, ends - now)
        return wait

    def record_failure(self, keys: list[str]) -> None:
        now = now_ts()
        with self.db.write(".throttle") as conn:
            for key in keys:
                row = conn.execute(sa.select(auth_failure).where(auth_failure.c.key == key)
                                   ).mappings().first()
                if row is None:
                    conn.execute(auth_failure.insert().values(key=key, window_start=now,
                                                              count=1))
                elif row["window_start"] + self.policy.window_seconds <= now:
                    conn.execute(auth_failure.update().where(auth_failure.c.key == key)
                                 .values(window_start=now, count=1))
                else:
                    conn.execute(auth_failure.update().where(auth_failure.c.key == key)
                                 .values(count=auth_failure.c.count + 1))
