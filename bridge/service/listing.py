"""What event lists and free/busy answers are made of: the query window, the filters a token
may use, and a calendar's busy and free time.

Decisions:
- A window without ``from`` starts today (midnight UTC) and lasts ``default_days``; it is
  clamped into the token's timeframe, and says so (``clamped``).
- ``q`` searches only the texts the token may see: a hidden field must not be testable.
- Outside a calendar's schedules counts as busy.
"""

from __future__ import annotations

import datetime as dt

from bridge.core.availability import (
    AVAILABILITY_PROP,
    Interval,
    merge,
    open_time,
    stored_schedules,
    subtract,
)
from bridge.core.limits import WindowTooLarge
from bridge.core.times import as_utc
from bridge.occurrences import Budget, Occurrence, expand_occurrences
from bridge.service.errors import InvalidInput
from bridge.store.access import AccessPolicy
from bridge.store.store import CalendarStore, CollectionRecord

# What q= searches, by the visible field that shows it.
SEARCHED = {"title": "SUMMARY", "description": "DESCRIPTION", "location": "LOCATION"}


def query_window(start: dt.datetime | None, end: dt.datetime | None, policy: AccessPolicy,
                 default_days: int = 7) -> tuple[dt.datetime, dt.datetime, bool]:
    """The query window (a bare date is midnight UTC), clamped into the token's timeframe."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = as_utc(start) if start else today
    end = as_utc(end) if end else start + dt.timedelta(days=default_days)
    if end <= start:
        raise InvalidInput("'to' must be after 'from'.", errors=[
            {"field": "to", "code": "invalid", "message": "must be after from"}])
    earliest, latest = policy.timeframe()
    clamped = False
    if earliest and start < earliest:
        start, clamped = earliest, True
    if latest and end > latest:
        end, clamped = latest, True
    return start, max(start, end), clamped


def require_window(start: dt.datetime, end: dt.datetime, max_days: int) -> None:
    if end - start > dt.timedelta(days=max_days):
        raise WindowTooLarge(f"The window is longer than {max_days} days; ask for a shorter "
                             "one.")


def searchable(policy: AccessPolicy) -> list[str]:
    visible = policy.token.visible_fields if policy.token else SEARCHED
    return [prop for field_name, prop in SEARCHED.items() if field_name in visible]


def listed(occurrence: Occurrence, include_cancelled: bool, q: str | None,
           searched: list[str]) -> bool:
    """Whether a list shows the instance: cancelled ones on request, ``q`` in the texts the
    token may see (``searched``)."""
    component = occurrence.source
    if not include_cancelled and str(component.get("STATUS", "")).upper() == "CANCELLED":
        return False
    if q:
        needle = q.lower()
        return any(needle in str(component.get(k, "")).lower() for k in searched)
    return True


def busy_and_free(store: CalendarStore, calendar: CollectionRecord, start: dt.datetime,
                  end: dt.datetime, budget: Budget) -> tuple[list[Interval], list[Interval]]:
    """A calendar's busy periods in [start, end) (merged) and the free time between them."""
    busy: list[Interval] = [
        (max(o.start, start), min(o.end, end))
        for o in expand_occurrences(store, calendar.id, start, end, budget) if o.busy]
    schedules = stored_schedules(calendar.props.get(AVAILABILITY_PROP))
    if schedules:
        busy += subtract([(start, end)], open_time(schedules, start, end))
    busy = merge(b for b in busy if b[0] < b[1])
    return busy, subtract([(start, end)], busy)
