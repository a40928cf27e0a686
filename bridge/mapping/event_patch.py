"""A partial update of the stored event: only the properties a patch names are rewritten.

Decisions:
* Every other line (alarms, overridden instances, X- and unknown properties, VTIMEZONEs, the
  calendar's own properties, the folding) stays byte for byte (``bridge.core.codec``).
* ORGANIZER is written only when the event has attendees: adding the first attendee adds it,
  removing the last one removes it.
* Moving a series' start moves its UNTIL, EXDATE and RDATE values by the same wall-clock offset
  (an excluded instance stays excluded) and gives them DTSTART's value type. Overridden
  instances (RECURRENCE-ID) are never rewritten.
* A patch that changes nothing returns the text unchanged (empty ``changed``); any change bumps
  SEQUENCE and rewrites DTSTAMP and LAST-MODIFIED.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import icalendar

from bridge.core.codec import Block, Document, content_line, unfold
from bridge.core.times import as_utc
from bridge.mapping.event_errors import EventMappingError
from bridge.mapping.event_lines import (
    ONE_DAY,
    address,
    attendee_line,
    bump,
    checked_email,
    component_times,
    date_of,
    item_address,
    item_email,
    master_block,
    parsed_master,
    text_line,
)
from bridge.mapping.event_recurrence import Recurrence, parse_recurrence, recurrences
from bridge.mapping.event_times import (
    TimeForm,
    exclusive_end_day,
    is_utc_name,
    stored_form,
    vtimezone_text,
    wall,
    zone_named,
)
from bridge.mapping.event_values import (
    EVENT_TYPE,
    RECURRENCE_PROPERTIES,
    UNSET,
    EventPatch,
    PatchResult,
    Unset,
)

_TEXT_FIELDS = (("summary", "SUMMARY"), ("description", "DESCRIPTION"),
                ("location", "LOCATION"), ("event_type", EVENT_TYPE))


def patch_event_text(text: str, patch: EventPatch, now: dt.datetime,
                     organizer_email: str | None = None) -> PatchResult:
    """Applies ``patch`` to the master VEVENT of ``text``, rewriting only the named properties.

    ``organizer_email`` becomes the ORGANIZER when attendees are added to an event without one.
    """
    document = Document.parse(text)
    block = master_block(document)
    calendar, component = parsed_master(text)
    changed = _patch_text_fields(block, component, patch, document.newline)

    form: TimeForm | None = None
    if any(patch.given(name) for name in ("start", "end", "all_day", "time_zone")):
        form = _patch_times(document, block, calendar, component, patch)
        if form is not None:
            changed.add("times")
    if patch.given("recurrence") and _patch_recurrence(block, component, patch, form,
                                                       document.newline):
        changed.add("recurrence")
    added, removed = _patch_attendees(block, patch, document.newline, organizer_email)
    if added or removed:
        changed.add("attendees")

    if not changed:
        return PatchResult(text, frozenset())
    try:
        sequence = int(component.get("SEQUENCE", 0)) + 1
    except (TypeError, ValueError):
        sequence = 1
    bump(block, document.newline, now, sequence)
    return PatchResult(document.text(), frozenset(changed), tuple(added), tuple(removed))


def _patch_text_fields(block: Block, component: icalendar.cal.Component, patch: EventPatch,
                       newline: str) -> set[str]:
    changed: set[str] = set()
    for field, name in _TEXT_FIELDS:
        if not patch.given(field):
            continue
        value = getattr(patch, field) or None
        old = str(component[name]) if isinstance(component.get(name), str) else None
        if value == old and len(block.props(name)) <= 1:
            continue
        block.replace({name}, [text_line(newline, name, value)] if value else [],
                      ["SUMMARY", "DTEND", "DTSTART"])
        changed.add(field)
    return changed


def _patch_recurrence(block: Block, component: icalendar.cal.Component, patch: EventPatch,
                      form: TimeForm | None, newline: str) -> bool:
    """Writes the patch's recurrence lines; whether they differ from the stored ones."""
    form = form or stored_form(component)
    start_value = as_utc(patch.start) if isinstance(patch.start, dt.datetime) else \
        as_utc(date_of(component["DTSTART"]))
    time_of_day = start_value.astimezone(form.tzinfo).time()
    wanted = None if isinstance(patch.recurrence, Unset) else patch.recurrence
    lines = [item.line(newline, form, time_of_day) for item in recurrences(wanted)]
    old = [unfold(item.raw) for item in block.items if item.name in RECURRENCE_PROPERTIES]
    if [unfold(line) for line in lines] == old:
        return False
    block.replace(RECURRENCE_PROPERTIES, lines, ["DTEND", "DURATION", "DTSTART"])
    return True


def _patched_form(old_form: TimeForm, patch: EventPatch) -> TimeForm:
    if not (patch.given("time_zone") or patch.given("all_day")):
        return old_form
    all_day = old_form.all_day if patch.all_day is UNSET else bool(patch.all_day)
    zone_name = old_form.tzid if patch.time_zone is UNSET else patch.time_zone
    if all_day:
        return TimeForm(True)
    if zone_name and not is_utc_name(zone_name):
        zone = old_form.tzinfo if zone_name == old_form.tzid else zone_named(zone_name,
                                                                                 "timeZone")
        return TimeForm(False, zone_name, zone)
    return TimeForm(False)


@dataclass(frozen=True)
class _Move:
    """The stored and the patched times of an event."""

    old_form: TimeForm
    form: TimeForm
    old_start: dt.date | dt.datetime
    old_end: dt.date | dt.datetime
    start_at: dt.datetime  # the new bounds as instants
    end_at: dt.datetime

    @classmethod
    def of(cls, component: icalendar.cal.Component, patch: EventPatch) -> _Move:
        old_form = stored_form(component)
        old_start, old_end = component_times(component)
        form = _patched_form(old_form, patch)

        def as_instant(value: dt.date | dt.datetime) -> dt.datetime:
            # an all-day value turned into a time starts at midnight in the new zone
            if isinstance(value, dt.datetime):
                return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            return dt.datetime.combine(value, dt.time(), form.tzinfo)

        start_at = (as_utc(patch.start) if isinstance(patch.start, dt.datetime)
                    else as_instant(old_start))
        if isinstance(patch.end, dt.datetime):
            end_at = as_utc(patch.end)
        elif patch.given("start"):
            end_at = start_at + (as_instant(old_end) - as_instant(old_start))
        else:
            end_at = as_instant(old_end)
        if end_at < start_at or (patch.given("end") and end_at == start_at
                                 and not form.all_day):
            raise EventMappingError("to", "must be after from")
        return cls(old_form, form, old_start, old_end, start_at, end_at)

    def new_bounds(self, patch: EventPatch) -> tuple[dt.date | dt.datetime,
                                                     dt.date | dt.datetime] | None:
        """The new DTSTART and DTEND values; None when the times do not change."""
        old_start, old_end = self.old_start, self.old_end
        if not self.form.all_day:
            unchanged = (not self.old_form.all_day and self.old_form.tzid == self.form.tzid
                         and (as_utc(old_start), as_utc(old_end)) == (self.start_at,
                                                                      self.end_at))
            return None if unchanged else (self.start_at, self.end_at)
        new_start = self.start_at.date()
        if self.old_form.all_day and not patch.given("end"):
            # both are DATEs here: an all-day event keeps its length in days
            new_end = new_start + (_day(old_end) - _day(old_start))
        else:
            new_end = exclusive_end_day(self.end_at)
        new_end = max(new_end, new_start + ONE_DAY)
        if self.old_form.all_day and (new_start, new_end) == (old_start, old_end):
            return None
        return new_start, new_end


def _day(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _patch_times(document: Document, block: Block, calendar: icalendar.Calendar,
                 component: icalendar.cal.Component, patch: EventPatch) -> TimeForm | None:
    """Rewrites DTSTART/DTEND (and recurrence values whose form must follow) when the patch
    moves the event; returns the new time form, or None when the times did not change."""
    move = _Move.of(component, patch)
    bounds = move.new_bounds(patch)
    if bounds is None:
        return None
    new_start, new_end = bounds
    form, newline = move.form, document.newline
    block.replace({"DTSTART"}, [form.line(newline, "DTSTART", new_start)], ["UID"])
    same_kind = form.all_day == move.old_form.all_day
    # a DURATION (or the implied one of an event without end) still holds when only start moves
    keeps_duration = not patch.given("end") and same_kind and (
        bool(block.props("DURATION")) or not block.props("DTEND"))
    if not keeps_duration:
        block.replace({"DTEND", "DURATION"}, [form.line(newline, "DTEND", new_end)],
                      ["DTSTART"])
    if form.tzid and form.tzid != move.old_form.tzid:
        known = {str(zone.get("TZID")) for zone in calendar.walk("VTIMEZONE")}
        if form.tzid not in known:
            at = document.parts.index(document.blocks("VEVENT")[0])
            document.parts.insert(at, vtimezone_text(form.tzid, move.start_at.date(), newline))
    if not patch.given("recurrence"):
        _move_recurrence(block, newline, move.old_form, form, move.old_start, new_start)
    return form


def _move_recurrence(block: Block, newline: str, old_form: TimeForm, form: TimeForm,
                     old_start: dt.date | dt.datetime, new_start: dt.date | dt.datetime) -> None:
    """Moves the stored UNTIL, EXDATE and RDATE values with DTSTART (as Thunderbird does), in
    wall-clock time, so an excluded instance stays excluded and the last one stays in; they also
    take DTSTART's new value type, as RFC 5545 demands. Overridden instances are not touched."""
    delta = wall(new_start, form.tzinfo) - wall(old_start, old_form.tzinfo)
    old_time = wall(old_start, old_form.tzinfo).time()

    def moved(value: dt.date | dt.datetime, until: bool = False) -> dt.date | dt.datetime:
        if not isinstance(value, dt.datetime) and not old_form.all_day:
            # a DATE in a timed series: a whole-day UNTIL, or that day's occurrence
            value = dt.datetime.combine(value, dt.time(23, 59, 59) if until else old_time)
        shifted = wall(value, old_form.tzinfo) + delta
        return shifted.date() if form.all_day else shifted.replace(tzinfo=form.tzinfo)

    for item in block.items:
        if item.name not in ("RRULE", "EXDATE", "RDATE"):
            continue
        try:
            parsed = parse_recurrence(unfold(item.raw))
        except EventMappingError:
            continue  # a form we do not rewrite (PERIOD, a custom TZID) stays as written
        if parsed.name == "RRULE" and parsed.until is None:
            continue
        parsed = Recurrence(parsed.name, parsed.rule_parts,
                            moved(parsed.until, until=True) if parsed.until is not None else None,
                            tuple(moved(when) for when in parsed.dates))
        raw = parsed.line(newline, form, dt.time())
        if unfold(raw) != unfold(item.raw):
            item.raw = raw


def _patch_attendees(block: Block, patch: EventPatch, newline: str,
                     organizer_email: str | None) -> tuple[list[str], list[str]]:
    to_remove = {address(checked_email(email, "removeAttendees"))
                 for email in patch.remove_attendees}
    to_add: dict[str, str] = {}
    for email in patch.add_attendees:
        to_add.setdefault(address(email), checked_email(email, "addAttendees"))
    if both := to_remove & set(to_add):
        raise EventMappingError("removeAttendees", f"{sorted(both)} also in addAttendees")
    present = {item_address(item): item_email(item) for item in block.props("ATTENDEE")}
    removed = [email for key, email in present.items() if key in to_remove]
    if removed:
        block.items = [item for item in block.items
                       if not (item.name == "ATTENDEE" and item_address(item) in to_remove)]
    added = [email for key, email in to_add.items() if key not in present]
    if added:
        if not block.props("ORGANIZER") and organizer_email:
            block.insert([content_line(newline, "ORGANIZER",
                                       f"mailto:{checked_email(organizer_email, 'organizer')}")],
                         ["LOCATION", "DESCRIPTION", "SUMMARY"])
        block.insert([attendee_line(newline, email) for email in added],
                      ["ATTENDEE", "ORGANIZER"])
    if removed and not block.props("ATTENDEE"):
        block.replace({"ORGANIZER"}, [])  # no attendees left: no longer a meeting
    return added, removed
