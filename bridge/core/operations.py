"""Which of a token's allowed operations (seed 004) a change of a calendar object needs.

The REST door knows the operation from the request (a PATCH names its fields); a CalDAV PUT only
carries the new text, so the two versions are compared here. Decisions:

- A new object needs ``create_events``; a deleted one ``delete_events`` (decided by the caller).
- Components are matched by (type, RECURRENCE-ID). A new override is compared with the instance
  it replaces (the master's properties at the original start), so "move this Tuesday" needs
  ``edit_times`` and "rename this Tuesday" ``edit_title``; removing an override needs
  ``edit_times`` (the instance goes back to the rule).
- SUMMARY and X-CALBRIDGE-EVENT-TYPE: ``edit_title``; DESCRIPTION: ``edit_description``;
  LOCATION: ``edit_location``; DTSTART, DTEND, DURATION, DUE, RRULE, RDATE, EXDATE:
  ``edit_times`` (times compared as instants, so a client that rewrites the same time in
  another notation changes nothing); ORGANIZER and the set of ATTENDEEs: ``edit_attendees``;
  the caller's own ATTENDEE line with only its PARTSTAT (and RSVP, comment) changed:
  ``respond_to_event``.
- Bookkeeping clients rewrite on every save (DTSTAMP, LAST-MODIFIED, CREATED, SEQUENCE and
  Thunderbird's X-MOZ-GENERATION, X-MOZ-LASTACK, X-MOZ-SNOOZE-TIME) needs nothing.
- Anything else (alarms, STATUS, TRANSP, CATEGORIES, X-properties, ...) has no operation of its
  own in seed 004 and is not writable over REST at all, so changing it needs every edit
  operation (``ALL_EDITS``): a token limited in any way changes only the fields it was given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from icalendar import Calendar, Component

from bridge.core.times import duration_value

TITLE, DESCRIPTION, LOCATION = "edit_title", "edit_description", "edit_location"
TIMES, ATTENDEES, RESPOND = "edit_times", "edit_attendees", "respond_to_event"
CREATE, DELETE = "create_events", "delete_events"
ALL_EDITS = frozenset({TITLE, DESCRIPTION, LOCATION, TIMES, ATTENDEES})

_FIELD_OPERATION = {"SUMMARY": TITLE, "X-CALBRIDGE-EVENT-TYPE": TITLE,
                    "DESCRIPTION": DESCRIPTION, "LOCATION": LOCATION,
                    "RRULE": TIMES, "RDATE": TIMES, "EXDATE": TIMES, "ORGANIZER": ATTENDEES}
_TIME_FIELDS = ("DTSTART", "DTEND", "DURATION", "DUE")
_BOOKKEEPING = frozenset({"DTSTAMP", "LAST-MODIFIED", "CREATED", "SEQUENCE", "X-MOZ-GENERATION",
                          "X-MOZ-LASTACK", "X-MOZ-SNOOZE-TIME", "RECURRENCE-ID"})
# Parameters of the caller's own ATTENDEE line that answering an invitation may change.
_RESPONSE_PARAMS = frozenset({"PARTSTAT", "RSVP", "X-RESPONSE-COMMENT"})
_COMPONENTS = ("VEVENT", "VTODO", "VJOURNAL")


@dataclass(frozen=True)
class _Shape:
    """One component reduced to what the operations compare."""

    times: tuple[object, ...]                    # (start, end or duration or due) as instants
    lines: dict[str, tuple[str, ...]]            # other property name -> serialized lines
    attendees: dict[str, dict[str, str]]         # address (lower case) -> parameters
    children: tuple[str, ...]                    # serialized subcomponents (VALARM, ...)


def _address(value: object) -> str:
    text = str(value).strip()
    return (text[7:] if text.lower().startswith("mailto:") else text).lower()


def _instant(value: object) -> object:
    moment = getattr(value, "dt", value)
    if isinstance(moment, dt.datetime) and moment.tzinfo is not None:
        return moment.astimezone(dt.UTC)
    return moment


def _values(component: Component, name: str) -> list[object]:
    value = component.get(name)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _shape(component: Component) -> _Shape:
    start = _instant(component.get("DTSTART"))
    end: object = None
    if "DTEND" in component or "DUE" in component:
        end = _instant(component.get("DTEND") or component.get("DUE"))
    elif "DURATION" in component:
        end = duration_value(component)
    lines: dict[str, list[str]] = {}
    attendees: dict[str, dict[str, str]] = {}
    for name, value in component.property_items(recursive=False):
        if name in _TIME_FIELDS or name in _BOOKKEEPING or name == "BEGIN" or name == "END":
            continue
        params = getattr(value, "params", {})
        if name == "ATTENDEE":
            attendees[_address(value)] = {k.upper(): str(v) for k, v in params.items()}
            continue
        lines.setdefault(name, []).append(
            f"{sorted(params.items())}:{value.to_ical() if hasattr(value, 'to_ical') else value}")
    children = tuple(sorted(c.to_ical().decode("utf-8", "replace")
                            for c in component.subcomponents))
    return _Shape((start, end), {k: tuple(sorted(v)) for k, v in lines.items()}, attendees,
                  children)


def _components(text: str) -> dict[tuple[str, str | None], Component]:
    calendar = Calendar.from_ical(text)
    found: dict[tuple[str, str | None], Component] = {}
    for component in calendar.walk():
        if component.name in _COMPONENTS:
            rid = component.get("RECURRENCE-ID")
            found[(component.name, None if rid is None else str(_instant(rid)))] = component
    return found


def _instance_baseline(master: Component, override: Component) -> _Shape:
    """The master as the instance that ``override`` replaces would have been."""
    shape = _shape(master)
    start, end = shape.times
    original = _instant(override["RECURRENCE-ID"])
    if isinstance(end, dt.timedelta) or end is None or start is None:
        new_end: object = end
    else:
        new_end = original + (end - start)  # type: ignore[operator]  # instants, typed object
    return _Shape((original, new_end), shape.lines, shape.attendees, shape.children)


def _compare(old: _Shape, new: _Shape, own_address: str | None) -> set[str]:
    needed: set[str] = set()
    if old.times != new.times:
        needed.add(TIMES)
    for name in old.lines.keys() | new.lines.keys():
        if old.lines.get(name) != new.lines.get(name):
            needed.add(_FIELD_OPERATION.get(name, "*"))
    if old.children != new.children:
        needed.add("*")
    if old.attendees.keys() != new.attendees.keys():
        needed.add(ATTENDEES)
    for address in old.attendees.keys() & new.attendees.keys():
        before, after = old.attendees[address], new.attendees[address]
        if before == after:
            continue
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        own = own_address is not None and address == own_address.lower()
        needed.add(RESPOND if own and changed <= _RESPONSE_PARAMS else ATTENDEES)
    return needed


def operations_for_change(old_text: str, new_text: str, own_address: str | None
                          ) -> frozenset[str]:
    """The operations a token needs to turn ``old_text`` into ``new_text`` (both one object).

    ``"*"`` in the answer stands for a change that needs every edit operation.
    """
    old, new = _components(old_text), _components(new_text)
    needed: set[str] = set()
    for key in old.keys() | new.keys():
        before, after = old.get(key), new.get(key)
        if after is None:
            needed.add(TIMES)  # a removed override: the instance reverts to the rule
            continue
        if before is None:
            master = old.get((key[0], None))
            if key[1] is None or master is None:
                needed.add(CREATE if not old else "*")
                continue
            needed |= _compare(_instance_baseline(master, after), _shape(after), own_address)
            continue
        needed |= _compare(_shape(before), _shape(after), own_address)
    return frozenset(needed)


def missing_operations(needed: Iterable[str], allowed: Iterable[str]) -> list[str]:
    """The needed operations the token lacks, "*" expanded to the edit operations."""
    allowed_set = set(allowed)
    wanted: set[str] = set()
    for operation in needed:
        wanted |= ALL_EDITS if operation == "*" else {operation}
    return sorted(wanted - allowed_set)
