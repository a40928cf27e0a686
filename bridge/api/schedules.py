"""Calendar schedules (availability rules), stored as RFC 7953 VAVAILABILITY."""

from __future__ import annotations

from radicale_plugin.store import CollectionRecord


def schedules_of(record: CollectionRecord) -> list[dict]:
    return []
