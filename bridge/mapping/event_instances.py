"""Edits of one instance of a series, and "this and following" splits, on the stored text.

Decisions:
* An instance is named by its original start (the key of its id, as RECURRENCE-ID names it),
  so its id stays the same while the series is unchanged, even after it is moved.
* Editing one instance writes its override (RFC 5545 RECURRENCE-ID): an existing one is
  patched; a new one is made from the master's lines (alarms, attendees, X-properties kept)
  without its recurrence lines, with the instance's times and a RECURRENCE-ID in the master's
  DTSTART form. The patch (or answer) is applied to that override alone by the same code as a
  series patch (``patch_event_text``, ``respond_text``); the master and every other override
  stay byte for byte. Recurrence cannot be set on one instance.
* Deleting one instance adds an EXDATE in the master's DTSTART form and drops its override;
  the master's SEQUENCE is bumped (the series changed, RFC 5546).
* "This and following" splits the series, as Google Calendar does, rather than writing
  RANGE=THISANDFUTURE, which Apple Calendar, Thunderbird and DAVx5 do not apply: the old series
  ends before the instance (its RRULE gets UNTIL, a COUNT becomes the UNTIL of the instances
  before; later RDATEs and overrides leave it), and the rest is a new series (a new UID, with
  RELATED-TO naming the old one) starting at the instance with what is left of the rule (a
  COUNT reduced by the instances before). Overrides after the split move to the new series
  when its times stay; a change of times drops them (their RECURRENCE-IDs would name instances
  that no longer exist), as Google does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import icalendar
from dateutil import rrule as dateutil_rrule

from bridge.core.codec import Block, Document, content_line, unfold
from bridge.core.times import as_utc, ical_utc
from bridge.mapping.event_errors import EventMappingError
from bridge.mapping.event_lines import (
    ONE_DAY,
    bump,
    component_times,
    date_of,
    event_blocks,
    master_block,
    text_line,
)
from bridge.mapping.event_patch import patch_event_text
from bridge.mapping.event_read import find_instance, instance_key
from bridge.mapping.event_recurrence import Recurrence, parse_recurrence
from bridge.mapping.event_times import TimeForm, stored_form
from bridge.mapping.event_values import EventPatch, PatchResult

Key = dt.date | dt.datetime
_RECURRENCE = frozenset({"RRULE", "RDATE", "EXDATE", "EXRULE"})


class InstanceNotFound(LookupError):
    """The series has no instance with that original start."""


@dataclass
class _Series:
    """A stored series: its document, its parse, its master (block and component)."""

    document: Document
    calendar: icalendar.Calendar
    master: Block
    event: icalendar.cal.Component

    @classmethod
    def of(cls, text: str) -> _Series:
        document = Document.parse(text)
        calendar = icalendar.Calendar.from_ical(text)
        master = master_block(document)
        event = next(e for e in calendar.walk("VEVENT") if "RECURRENCE-ID" not in e)
        return cls(document, calendar, master, event)

    @property
    def form(self) -> TimeForm:
        return stored_form(self.event)

    @property
    def newline(self) -> str:
        return self.document.newline

    def overrides(self) -> list[tuple[str, Block]]:
        """(instance key, block) of every override, in the document's order."""
        found = []
        for block, event in zip(event_blocks(self.document), self.calendar.walk("VEVENT"),
                                strict=True):
            if "RECURRENCE-ID" in event:
                found.append((instance_key(date_of(event["RECURRENCE-ID"])), block))
        return found

    def instance(self, key: Key) -> icalendar.cal.Component:
        found = find_instance("", key, self.calendar)
        if found is None:
            raise InstanceNotFound(f"the series has no instance {instance_key(key)}")
        return found

    def is_first(self, key: Key) -> bool:
        return instance_key(key) == instance_key(as_key(date_of(self.event["DTSTART"])))

    def drop(self, block: Block) -> None:
        self.document.parts.remove(block)


def as_key(value: Key) -> Key:
    """An original start as instance ids name it: a date, or the instant in UTC."""
    return as_utc(value) if isinstance(value, dt.datetime) else value


def _new_override(series: _Series, key: Key) -> Block:
    """The override of instance ``key`` as the master would expand it: the master's lines
    without its recurrence, at the instance's times, with a RECURRENCE-ID."""
    start, end = component_times(series.instance(key))
    form, newline = series.form, series.newline
    block = Block("VEVENT", series.master.text())
    has_duration = bool(block.props("DURATION"))
    block.items = [item for item in block.items
                   if item.name not in _RECURRENCE | {"DTSTART", "DTEND"}]
    times = [form.line(newline, "DTSTART", start)]
    if not has_duration:
        times.append(form.line(newline, "DTEND", end))
    block.insert([form.line(newline, "RECURRENCE-ID", key), *times], ["UID"])
    return block


def _override(series: _Series, key: Key) -> Block:
    """The override of instance ``key``, made and placed after the last VEVENT if new."""
    wanted = instance_key(key)
    for found_key, block in series.overrides():
        if found_key == wanted:
            return block
    block = _new_override(series, key)
    last = event_blocks(series.document)[-1]
    series.document.parts.insert(series.document.parts.index(last) + 1, block)
    return block


def _isolated(series: _Series, block: Block) -> str:
    """The calendar as if ``block`` (without its RECURRENCE-ID) were its only VEVENT."""
    alone = Block("VEVENT", block.text())
    alone.items = [item for item in alone.items if item.name != "RECURRENCE-ID"]
    parts = [alone if part is block else part for part in series.document.parts
             if isinstance(part, str) or part is block or part.name != "VEVENT"]
    return "".join(part if isinstance(part, str) else part.text() for part in parts)


def _splice(series: _Series, block: Block, edited_text: str) -> None:
    """Put the edited override back in place of ``block`` with its RECURRENCE-ID, and any
    VTIMEZONE the edit added."""
    edited = Document.parse(edited_text)
    new_block = Block("VEVENT", edited.blocks("VEVENT")[0].text())
    new_block.insert([item.raw for item in block.props("RECURRENCE-ID")], ["UID"])
    parts = series.document.parts
    parts[parts.index(block)] = new_block
    known = {zone.first_value("TZID") for zone in series.document.blocks("VTIMEZONE")}
    first_event = next(p for p in parts if isinstance(p, Block) and p.name == "VEVENT")
    for zone in edited.blocks("VTIMEZONE"):
        if zone.first_value("TZID") not in known:
            parts.insert(parts.index(first_event), zone.text())


def _edit_instance(text: str, key: Key, edit: Callable[[str], str]) -> str:
    """``edit`` applied to the override of instance ``key`` alone (made if new)."""
    series = _Series.of(text)
    block = _override(series, key)
    edited = edit(_isolated(series, block))
    if edited == _isolated(series, block):
        return text
    _splice(series, block, edited)
    return series.document.text()


def patch_instance_text(text: str, key: Key, patch: EventPatch, now: dt.datetime,
                        organizer_email: str | None = None) -> PatchResult:
    """``patch`` applied to one instance: its override, made if new."""
    if patch.given("recurrence"):
        raise EventMappingError("recurrence", "one instance has no recurrence of its own; "
                                "change the series (its id without the instance suffix)")
    results: list[PatchResult] = []

    def edit(alone: str) -> str:
        results.append(patch_event_text(alone, patch, now, organizer_email))
        return results[-1].text

    new_text = _edit_instance(text, key, edit)
    result = results[0]
    if not result.changed:
        return PatchResult(text, frozenset())
    return PatchResult(new_text, result.changed, result.added_attendees,
                       result.removed_attendees)


def respond_instance_text(text: str, key: Key, respond: Callable[[str], str]) -> str:
    """An attendee's answer (``respond``, e.g. ``respond_text`` with its arguments bound) for
    one instance only: written in its override, made if new."""
    return _edit_instance(text, key, respond)


def exclude_instance_text(text: str, key: Key, now: dt.datetime) -> str:
    """The series without instance ``key``: an EXDATE, its override dropped, SEQUENCE bumped."""
    series = _Series.of(text)
    series.instance(key)
    wanted = instance_key(key)
    for found_key, block in series.overrides():
        if found_key == wanted:
            series.drop(block)
    series.master.insert([series.form.line(series.newline, "EXDATE", key)],
                         ["EXDATE", "RDATE", "RRULE"])
    bump(series.master, series.newline, now, _sequence(series.event) + 1)
    return series.document.text()


def _sequence(event: icalendar.cal.Component) -> int:
    try:
        return int(event.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        return 0


# -- this and following -------------------------------------------------------------------------


def _before(value: Key, key: Key) -> bool:
    if isinstance(key, dt.datetime):
        if not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time(), dt.UTC)
        return as_utc(value) < key
    return (value.date() if isinstance(value, dt.datetime) else value) < key


def _rule_before(event: icalendar.cal.Component, rule: icalendar.vRecur, key: Key,
                 count: int) -> int:
    """How many of the first ``count`` instances of ``rule`` start before ``key``."""
    start = date_of(event["DTSTART"])
    if not isinstance(start, dt.datetime):
        start = dt.datetime.combine(start, dt.time())
    text = rule.to_ical().decode()
    without_end = ";".join(p for p in text.split(";") if not p.startswith(("UNTIL=", "COUNT=")))
    found = 0
    for occurrence in dateutil_rrule.rrulestr(f"{without_end};COUNT={count}", dtstart=start):
        value: Key = occurrence if isinstance(key, dt.datetime) else occurrence.date()
        if not _before(value, key):
            break
        found += 1
    return found


def _rewritten_recurrence(block: Block, series: _Series, key: Key, *, keep_later: bool,
                          count: int | None) -> None:
    """RRULE ending before ``key`` (``keep_later`` False) or going on with ``count`` left
    (True); RDATE values on the dropped side removed. Other lines stay as written."""
    form, newline = series.form, series.newline
    time_of_day = date_of(series.event["DTSTART"])
    clock = time_of_day.time() if isinstance(time_of_day, dt.datetime) else dt.time()
    items = []
    for item in block.items:
        if item.name in ("RRULE", "RDATE"):
            try:
                parsed = parse_recurrence(unfold(item.raw))
            except EventMappingError:
                items.append(item)  # a form not rewritten (PERIOD, custom TZID) stays
                continue
            raw = _recurrence_line(parsed, form, newline, clock, key, keep_later, count)
            if raw is not None:
                item.raw = raw
                items.append(item)
            continue
        items.append(item)
    block.items = items


def _recurrence_line(parsed: Recurrence, form: TimeForm, newline: str, clock: dt.time,
                     key: Key, keep_later: bool, count: int | None) -> str | None:
    if parsed.name == "RDATE":
        kept = tuple(d for d in parsed.dates if _before(d, key) != keep_later)
        return Recurrence("RDATE", dates=kept).line(newline, form, clock) if kept else None
    parts = [(k, v) for k, v in parsed.rule_parts if k not in ("COUNT", "UNTIL")]
    if not keep_later:
        last = key - ONE_DAY if not isinstance(key, dt.datetime) else key - dt.timedelta(seconds=1)
        return Recurrence("RRULE", (*parts, ("UNTIL", "")), until=last).line(newline, form, clock)
    if count is not None:
        parts.append(("COUNT", str(count)))
    elif parsed.until is not None:
        parts.append(("UNTIL", ""))
    return Recurrence("RRULE", tuple(parts), until=parsed.until).line(newline, form, clock)


def _with_uid(block: Block, uid: str, newline: str) -> Block:
    copy = Block("VEVENT", block.text())
    copy.replace({"UID"}, [text_line(newline, "UID", uid)])
    return copy


def truncate_series_text(text: str, key: Key, now: dt.datetime) -> str:
    """The series ending before instance ``key`` (its later overrides and RDATEs dropped)."""
    series = _Series.of(text)
    series.instance(key)
    if series.is_first(key):
        raise EventMappingError("range", "this and following from the first instance is the "
                                "whole series; change or delete the series")
    for found_key, block in series.overrides():
        if not _before(_key_value(found_key), key):
            series.drop(block)
    _rewritten_recurrence(series.master, series, key, keep_later=False, count=None)
    bump(series.master, series.newline, now, _sequence(series.event) + 1)
    return series.document.text()


def _key_value(found_key: str) -> Key:
    if len(found_key) == 8:
        return dt.datetime.strptime(found_key, "%Y%m%d").date()
    return dt.datetime.strptime(found_key, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def following_series_text(text: str, key: Key, new_uid: str, now: dt.datetime, *,
                          keep_overrides: bool) -> str:
    """A new series from instance ``key`` on: the master's lines at that start, the rest of the
    rule, RELATED-TO the old UID, and (``keep_overrides``) the later overrides."""
    series = _Series.of(text)
    series.instance(key)
    form, newline = series.form, series.newline
    start, end = component_times(series.event)
    block = _with_uid(series.master, new_uid, newline)
    count = None
    rule = series.event.get("RRULE")
    if isinstance(rule, icalendar.vRecur) and "COUNT" in rule:
        total = int(rule["COUNT"][0])
        count = max(1, total - _rule_before(series.event, rule, key, total))
    _rewritten_recurrence(block, series, key, keep_later=True, count=count)
    new_start: Key = key
    times = [form.line(newline, "DTSTART", new_start)]
    if block.props("DTEND"):
        times.append(form.line(newline, "DTEND", _shifted(new_start, start, end, form)))
    block.replace({"DTSTART", "DTEND"}, times, ["UID"])
    block.insert([content_line(newline, "RELATED-TO", str(series.event["UID"]))], ["UID"])
    bump(block, newline, now, 0)
    block.replace({"CREATED"}, [content_line(newline, "CREATED", ical_utc(now))], ["DTSTAMP"])
    later = [_with_uid(b, new_uid, newline) for k, b in series.overrides()
             if keep_overrides and not _before(_key_value(k), key)]
    parts: list[str | Block] = []
    for part in series.document.parts:
        if isinstance(part, str) or part.name != "VEVENT":
            parts.append(part)
        elif part is series.master:
            parts += [block, *later]
    return Document(parts, newline).text()


def _shifted(new_start: Key, start: Key, end: Key, form: TimeForm) -> Key:
    """The end of an instance starting at ``new_start`` with the master's length."""
    if not isinstance(new_start, dt.datetime) or form.all_day:
        return new_start + (_as_date(end) - _as_date(start))
    return as_utc(new_start).astimezone(form.tzinfo) + (as_utc(end) - as_utc(start))


def _as_date(value: Key) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
