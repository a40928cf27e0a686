"""Derive the index of one iCalendar object from its text: pure functions, no I/O.

Occurrences come from recurring-ical-events (the same expander the REST API uses), so
CalDAV time-range answers and REST lists agree. The envelope (start_ts, end_ts) keeps
Radicale's ``time_range`` semantics, which Radicale computes itself on PUT.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import icalendar

from bridge.core.limits import InvalidObject  # defined with the other refusals
from bridge.core.recurrence import instances, series_of
from bridge.core.times import component_end, time_value, to_ts

# Radicale's bounds of time (``radicale.item.filter``): 0001-01-01 and 9999-12-31T24:00 UTC;
# a test holds them equal to Radicale's.
TIMESTAMP_MIN: int = -62135596800
TIMESTAMP_MAX: int = 253402300800
MAX_UID_LENGTH = 1024

# Components whose occurrences we index exactly; VTODO/VJOURNAL time-range rules
# (RFC 4791 9.9) differ and are left to Radicale's own evaluation.
INDEXED_COMPONENTS = frozenset({"VEVENT"})
OBJECT_COMPONENTS = ("VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VAVAILABILITY")


@dataclass(frozen=True)
class IndexPolicy:
    """How far around now recurring series are materialized, and how many rows per series."""

    past_days: int = 366
    future_days: int = 2 * 366
    max_per_series: int = 2000


@dataclass
class ObjectIndex:
    uid: str
    component: str
    start_ts: int
    end_ts: int
    indexed_from: int
    indexed_until: int
    occurrences: list[tuple[int, int]] = field(default_factory=list)
    # Rows stop at policy.max_per_series, before the window's edge.
    capped: bool = False
    # When the rolling horizon rebuilds these rows (TIMESTAMP_MAX: never).
    reindex_at: int = TIMESTAMP_MAX

    @property
    def max_duration(self) -> int:
        return max((end - start for start, end in self.occurrences), default=0)


def parse_object(text: str) -> icalendar.Calendar:
    """Parse one object and check the rules every door enforces: one UID, one component type."""
    try:
        cal = icalendar.Calendar.from_ical(text)
    except Exception as exc:  # icalendar raises ValueError, KeyError, IndexError...
        raise InvalidObject(f"not parseable iCalendar: {exc}") from exc
    if not isinstance(cal, icalendar.Calendar) or cal.name != "VCALENDAR":
        raise InvalidObject("the object must be one VCALENDAR")
    components = [c for c in cal.subcomponents if c.name in OBJECT_COMPONENTS]
    if not components:
        raise InvalidObject("the VCALENDAR holds no VEVENT, VTODO or VJOURNAL")
    names = {str(c.name) for c in components}  # named: filtered by OBJECT_COMPONENTS
    if len(names) > 1:
        raise InvalidObject(f"one component type per object, got {sorted(names)}")
    uids = {str(c.get("UID", "")) for c in components}
    if len(uids) != 1 or "" in uids:
        raise InvalidObject("every component needs the same, non-empty UID")
    if len(next(iter(uids))) > MAX_UID_LENGTH:
        raise InvalidObject(f"the UID is longer than {MAX_UID_LENGTH} characters")
    return cal


def object_uid_and_component(cal: icalendar.Calendar) -> tuple[str, str]:
    component = next(c for c in cal.subcomponents if c.name in OBJECT_COMPONENTS)
    return str(component["UID"]), str(component.name)


def occurrence_bounds(component: icalendar.cal.Component) -> tuple[int, int]:
    """Start and exclusive end of one expanded instance, zero length stored as one second."""
    start_ts = to_ts(time_value(component, "DTSTART"))
    return start_ts, max(to_ts(component_end(component)), start_ts + 1)


def build_index(
    cal: icalendar.Calendar,
    envelope: tuple[int, int],
    now: dt.datetime,
    policy: IndexPolicy,
) -> ObjectIndex:
    """The index of one parsed object; ``envelope`` is Radicale's time_range for it."""
    uid, component = object_uid_and_component(cal)
    start_ts, end_ts = envelope
    index = ObjectIndex(uid, component, start_ts, end_ts, TIMESTAMP_MIN, TIMESTAMP_MIN)
    if component not in INDEXED_COMPONENTS:
        return index  # nothing proven: Radicale's own filter decides
    parts = [c for c in cal.subcomponents if c.name == component]
    if len(parts) == 1 and not any(k in parts[0] for k in ("RRULE", "RDATE")):
        if "DTSTART" not in parts[0]:
            return index
        index.occurrences = [occurrence_bounds(parts[0])]
        index.indexed_from, index.indexed_until = TIMESTAMP_MIN, TIMESTAMP_MAX
        return index

    window_from = now - dt.timedelta(days=policy.past_days)
    window_until = now + dt.timedelta(days=policy.future_days)
    from_ts, until_ts = to_ts(window_from), to_ts(window_until)
    hard_limit = 4 * policy.max_per_series
    # At most one instance past the limit is ever computed (recurrence.instances).
    found = instances(series_of(cal, component), window_from, window_until, hard_limit)
    if len(found) > hard_limit:
        return index  # too dense to materialize (e.g. MINUTELY): prove nothing
    occurrences = [(to_ts(i.start), max(to_ts(i.end), to_ts(i.start) + 1)) for i in found]
    occurrences.sort()  # instances (overrides especially) need not come in order
    truncated_at: int | None = None
    if len(occurrences) > policy.max_per_series:
        truncated_at = occurrences[policy.max_per_series][0]
        occurrences = occurrences[: policy.max_per_series]
    index.occurrences = occurrences
    # The rows are complete over the materialized window; a finite series that lies
    # wholly inside it is complete everywhere.
    index.indexed_from = TIMESTAMP_MIN if start_ts >= from_ts else from_ts
    if truncated_at is not None:
        index.indexed_until, index.capped = truncated_at, True
    else:
        index.indexed_until = TIMESTAMP_MAX if end_ts <= until_ts else until_ts
    index.reindex_at = reindex_time(index, to_ts(now), policy)
    return index


def reindex_time(index: ObjectIndex, now_ts: int, policy: IndexPolicy) -> int:
    """When rebuilding ``index`` would move its rows forward; always later than ``now_ts``.

    A series cut at the window's edge is rebuilt when that edge is within half a horizon.
    A capped series keeps the same number of rows from the window's start, so a rebuild
    moves its end by the time elapsed: it waits until now passes where its rows stop, and,
    when they stop in the past already (too dense for the window), half a horizon.
    """
    if index.indexed_until >= TIMESTAMP_MAX or index.indexed_until <= TIMESTAMP_MIN \
            or index.end_ts <= index.indexed_until:
        return TIMESTAMP_MAX
    half_horizon = policy.future_days * 86400 // 2
    if index.capped:
        return index.indexed_until if index.indexed_until > now_ts else now_ts + half_horizon
    return max(index.indexed_until - half_horizon, now_ts + 1)
