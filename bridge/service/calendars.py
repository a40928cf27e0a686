"""Calendar property writes shared by the calendar and schedule views.

Decisions:
- ``change`` is applied to the properties as they are inside the calendar's write lock: a
  concurrent event write does not fail it (only a named If-Match gives Stale), and a concurrent
  property edit (another schedule, a client's PROPPATCH) is not lost.
- No web framework: the If-Match comes in as a value (None: none was sent).
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.service.errors import Missing, Stale
from bridge.store.store import CalendarStore, CollectionRecord


def check_etag(expected: str | None, current_etag: str) -> None:
    """An If-Match value (None or ``*``: any version) against the stored etag."""
    if expected is not None and expected != "*" and expected != current_etag:
        raise Stale()


def update_props(store: CalendarStore, record: CollectionRecord,
                 change: Callable[[CollectionRecord], dict[str, str]],
                 if_match: str | None = None) -> CollectionRecord:
    """Write ``change(current)`` over the calendar's properties inside its write lock."""
    with store.write(record.path):
        current = store.get_collection_by_id(record.id)
        if current is None:
            raise Missing("Calendar not found.", code="CALENDAR_NOT_FOUND")
        check_etag(if_match, current.etag)
        return store.set_props(current.id, change(current))
