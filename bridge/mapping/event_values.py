"""The values the event mapping takes and gives: inputs, patches and results.

Decisions:
* ``UNSET`` marks a patch field the request did not name; None there means "remove".
* Instants may be aware (any zone) or naive (read as UTC).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

PRODID = "-//calbridge//calbridge//EN"
EVENT_TYPE = "X-CALBRIDGE-EVENT-TYPE"
RECURRENCE_PROPERTIES = frozenset({"RRULE", "RDATE", "EXDATE", "EXRULE"})

ResponseStatus = Literal["accepted", "declined", "tentative"]
PARTSTAT = {"accepted": "ACCEPTED", "declined": "DECLINED", "tentative": "TENTATIVE"}


class Unset(enum.Enum):
    """Marks an EventPatch field the request did not name (None there means "remove")."""

    UNSET = "unset"


UNSET = Unset.UNSET


@dataclass(frozen=True)
class EventInput:
    """A new event's already-validated values; ``start``/``end`` are instants (naive = UTC)."""

    calendar_id: int
    summary: str
    start: dt.datetime
    end: dt.datetime
    description: str | None = None
    location: str | None = None
    all_day: bool = False
    attendees: Sequence[str] = ()
    recurrence: Sequence[str] = ()
    event_type: str | None = None
    time_zone: str | None = None


@dataclass(frozen=True)
class EventPatch:
    """A partial update: fields left UNSET are kept; None (or "") removes description,
    location, event_type, recurrence, and for time_zone means "write UTC times"."""

    summary: str | None | Unset = UNSET
    description: str | None | Unset = UNSET
    location: str | None | Unset = UNSET
    start: dt.datetime | Unset = UNSET
    end: dt.datetime | Unset = UNSET
    all_day: bool | Unset = UNSET
    time_zone: str | None | Unset = UNSET
    recurrence: Sequence[str] | None | Unset = UNSET
    event_type: str | None | Unset = UNSET
    add_attendees: Sequence[str] = ()
    remove_attendees: Sequence[str] = ()

    def given(self, name: str) -> bool:
        return getattr(self, name) is not UNSET


@dataclass(frozen=True)
class PatchResult:
    """The new text and what changed, so the caller can decide on notifications.

    ``changed`` is a subset of {"summary", "description", "location", "times", "recurrence",
    "attendees", "event_type"}; the attendee tuples hold the addresses actually added/removed.
    """

    text: str
    changed: frozenset[str]
    added_attendees: tuple[str, ...] = ()
    removed_attendees: tuple[str, ...] = ()
