"""What the doors and the dispatcher share of notifications: their settings (the `[push]` and
`[webhooks]` sections) and the push service (the server's keys, made on first use, and the
subscriptions)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bridge.config import Settings
from bridge.notify import push
from bridge.notify.targets import TargetPolicy
from bridge.store.engine import Transactions
from bridge.store.notify import PushSubscriptions, ServerSecrets, Webhooks

DAY = 86400


@dataclass(frozen=True)
class PushSettings:
    interval: float
    subject: str
    targets: TargetPolicy
    default_expiry_seconds: int
    max_expiry_seconds: int
    ttl: int
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> PushSettings:
        def get(key: str) -> object:
            return settings.get("push", key)
        host = settings.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        subject = str(get("vapid_subject")) or f"mailto:postmaster@{host or 'localhost'}"
        return cls(interval=float(str(get("interval"))), subject=subject,
                   targets=TargetPolicy(allow_private=bool(get("allow_private_targets")),
                                        require_https=bool(get("require_https"))),
                   default_expiry_seconds=int(str(get("default_expiry_days"))) * DAY,
                   max_expiry_seconds=int(str(get("max_expiry_days"))) * DAY,
                   ttl=int(str(get("ttl"))), timeout=float(str(get("timeout"))))


@dataclass(frozen=True)
class WebhookSettings:
    targets: TargetPolicy
    timeout: float
    retry_seconds: int
    max_attempts: int
    disable_after: int
    lease_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookSettings:
        def get(key: str) -> object:
            return settings.get("webhooks", key)
        return cls(targets=TargetPolicy(allow_private=bool(get("allow_private_targets")),
                                        require_https=bool(get("require_https"))),
                   timeout=float(str(get("timeout"))),
                   retry_seconds=int(str(get("retry_seconds"))),
                   max_attempts=int(str(get("max_attempts"))),
                   disable_after=int(str(get("disable_after_failures"))),
                   lease_seconds=int(str(get("lease_seconds"))))

    def repository(self, db: Transactions) -> Webhooks:
        return Webhooks(db, self.retry_seconds, self.max_attempts, self.lease_seconds,
                        self.disable_after)


class PushService:
    """What both the CalDAV door and the dispatcher need of push: the keys (made on first
    use), the settings, the subscriptions."""

    def __init__(self, db: Transactions, settings: PushSettings) -> None:
        self.db = db
        self.settings = settings
        self.subscriptions = PushSubscriptions(db)
        self._keys: push.PushKeys | None = None
        self._lock = threading.Lock()

    @property
    def keys(self) -> push.PushKeys:
        with self._lock:
            if self._keys is None:
                self._keys = push.PushKeys(ServerSecrets(self.db), self.settings.subject)
            return self._keys
