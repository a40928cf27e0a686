"""Failed-login throttling per client address and per user, kept in the database so that
every server process sees the same counts."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from radicale_plugin.schema import auth_failure
from radicale_plugin.store import CalendarStore, now_ts


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 20
    window_seconds: int = 300


class LoginThrottle:
    def __init__(self, store: CalendarStore, policy: ThrottlePolicy | None = None) -> None:
        self.store = store
        self.policy = policy or ThrottlePolicy()

    @staticmethod
    def keys(address: str | None, username: str | None) -> list[str]:
        return [k for k in (f"addr:{address}" if address else None,
                            f"user:{username}" if username else None) if k]

    def retry_after(self, keys: list[str]) -> int:
        """Seconds until these keys may try again; 0 when they may now."""
        if not keys:
            return 0
        now = now_ts()
        with self.store.read() as conn:
            rows = conn.execute(sa.select(auth_failure).where(auth_failure.c.key.in_(keys))
                                ).mappings().all()
        wait = 0
        for row in rows:
            ends = row["window_start"] + self.policy.window_seconds
            if row["count"] >= self.policy.max_failures and ends > now:
                wait = max(wait, ends - now)
        return wait

    def record_failure(self, keys: list[str]) -> None:
        now = now_ts()
        with self.store.write(".throttle") as conn:
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
