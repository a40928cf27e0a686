"""Event JSON fields <-> the stored iCalendar text (pure functions: no I/O, Flask or database).

The REST API and CalDAV clients edit the same objects, so a write here touches only the lines it
means to change. ``patch_event_text`` and ``respond_text`` rewrite the named properties of the
VEVENT line by line; every other line (alarms, overridden instances, X- and unknown properties,
VTIMEZONEs, the calendar's own properties, the folding) stays byte-for-byte as the client wrote
it. Nothing is re-serialized through icalendar, which would reorder and refold the object.

Public API
----------
``EventInput``, ``EventPatch`` (``UNSET`` marks a field not given), ``PatchResult``.
    Instants may be aware (any zone) or naive (read as UTC).
``EventMappingError(field, message)``: bad input; ``field`` is the JSON field name ("summary",
    "from", "to", "timeZone", "attendees", "addAttendees", "removeAttendees", "recurrence").
``NotAnAttendee``, ``OrganizerCannotRespond``: refusals of ``respond_text`` (``.code`` holds the
    seed's NOT_AN_ATTENDEE / CANNOT_RSVP_AS_ORGANIZER).
``new_event_text(data, uid, organizer_email, now) -> str``: a new VCALENDAR with one VEVENT.
``patch_event_text(text, patch, now, organizer_email=None) -> PatchResult``: partial update.
``respond_text(text, attendee_email, status, comment, now) -> str``: an attendee's answer.
``event_json(text, *, event_id, calendar_id, etag, instance=None, viewer_email=None,
    time_zone=None, created=None, updated=None, calendar=None) -> dict``: the read shape.
``event_window(text) -> (start_utc, end_utc)``: the master's first occurrence, for timeframes.
``instance_id(series_id, recurrence_id) -> str``, ``parse_instance_id(id) -> (series, key)``,
    ``instance_key(recurrence_id) -> str`` ("20270315T130000Z" or "20260210").
``find_instance(text, key) -> icalendar.Event | None``: one instance of a series, expanded.
``check_recurrence(lines)``: validates recurrence input early (raises EventMappingError).

Decisions
---------
* Times come in as UTC instants. With a time zone they are written as TZID wall-clock times
  (plus a VTIMEZONE), so a weekly 09:00 stays 09:00 local across DST. All-day events are DATE
  values with an exclusive end covering every UTC date the [from, to) interval touches.
* ORGANIZER is written only when the event has attendees: RFC 5545 asks for it on
  group-scheduled events only, and clients read an ORGANIZER as "this is a meeting". Adding the
  first attendee in a patch adds it; removing the last attendee removes it.
* Moving a series' start moves its UNTIL, EXDATE and RDATE values by the same wall-clock offset
  (an excluded instance stays excluded) and gives them DTSTART's value type. Overridden
  instances (RECURRENCE-ID) are never rewritten by a patch.
* The event type is the ``X-CALBRIDGE-EVENT-TYPE`` property: clients keep X- properties they
  do not know, and it stays out of CATEGORIES, which users edit.
* A response sets PARTSTAT and keeps RSVP as it was: RSVP is the organizer's request for an
  answer, and PARTSTAT already says whether the answer came.
* The response comment is the ``X-RESPONSE-COMMENT`` parameter of the attendee's own ATTENDEE
  line (always quoted, RFC 6868 escaped; JSCalendar ``participationComment``): it stays with its
  attendee, and several attendees' comments do not collide as they would in one COMMENT
  property. A response without a comment clears the old one.
* A patch that changes nothing returns the text unchanged (empty ``changed``); any change bumps
  SEQUENCE and rewrites DTSTAMP and LAST-MODIFIED, as does a response (which does not touch
  SEQUENCE: a reply does not revise the event, RFC 5546 2.1.4).
* Floating (zone-less) stored times are read as UTC, as the CalDAV side does.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import icalendar
from dateutil import rrule as dateutil_rrule
from icalendar.parser import Contentline, param_value

from bridge.core.limits import Limits
from bridge.core.mail_header import check_email
from bridge.core.recurrence import instances, series_of

PRODID = "-//calbridge//calbridge//EN"
EVENT_TYPE = "X-CALBRIDGE-EVENT-TYPE"
RESPONSE_COMMENT = "X-RESPONSE-COMMENT"
RECURRENCE_PROPERTIES = frozenset({"RRULE", "RDATE", "EXDATE", "EXRULE"})

ResponseStatus = Literal["accepted", "declined", "tentative"]
_PARTSTAT = {"accepted": "ACCEPTED", "declined": "DECLINED", "tentative": "TENTATIVE"}
_ONE_DAY = dt.timedelta(days=1)


# -- values going in and out -------------------------------------------------------------------


class EventMappingError(ValueError):
    """Input that cannot become a valid event; ``field`` names the JSON field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotAnAttendee(Exception):
    code = "NOT_AN_ATTENDEE"


class OrganizerCannotRespond(Exception):
    code = "CANNOT_RSVP_AS_ORGANIZER"


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


# -- the stored text, line by line -------------------------------------------------------------

_PHYSICAL_LINE = re.compile(r"[^\n]*\n|[^\n]+")
_FOLD = re.compile(r"\r?\n[ \t]")
_NAME = re.compile(r"[A-Za-z0-9-]+")


def _unfold(raw: str) -> str:
    return _FOLD.sub("", raw).rstrip("\r\n")


@dataclass
class _Item:
    """One own property of a VEVENT (``name`` set) or one nested component such as a VALARM
    (``name`` None), as the raw stored text: continuations and line endings included."""

    name: str | None
    raw: str


def _property(raw: str) -> _Item:
    match = _NAME.match(raw)
    return _Item(match.group(0).upper() if match else "", raw)


@dataclass
class _Block:
    """One top-level VEVENT of the stored text."""

    begin: str
    items: list[_Item]
    end: str

    def props(self, name: str) -> list[_Item]:
        return [item for item in self.items if item.name == name]

    @property
    def is_override(self) -> bool:
        return bool(self.props("RECURRENCE-ID"))

    def _insert_at(self, anchors: Sequence[str]) -> int:
        # after the last property named in ``anchors``, else before the first nested component
        for anchor in anchors:
            found = [i for i, item in enumerate(self.items) if item.name == anchor]
            if found:
                return found[-1] + 1
        nested = [i for i, item in enumerate(self.items) if item.name is None]
        return nested[0] if nested else len(self.items)

    def replace(self, names: Iterable[str], raws: Sequence[str],
                anchors: Sequence[str] = ()) -> None:
        """Drops every property called one of ``names`` and puts ``raws`` where the first of
        them was (or after ``anchors`` when there was none)."""
        names = set(names)
        positions = [i for i, item in enumerate(self.items) if item.name in names]
        at = positions[0] if positions else self._insert_at(anchors)
        kept_before = [item for item in self.items[:at] if item.name not in names]
        kept_after = [item for item in self.items[at:] if item.name not in names]
        self.items = kept_before + [_property(raw) for raw in raws] + kept_after

    def insert(self, raws: Sequence[str], anchors: Sequence[str] = ()) -> None:
        at = self._insert_at(anchors)
        self.items[at:at] = [_property(raw) for raw in raws]

    def text(self) -> str:
        return self.begin + "".join(item.raw for item in self.items) + self.end


@dataclass
class _Document:
    """The stored text as untouched raw lines and the top-level VEVENT blocks between them."""

    parts: list[str | _Block]
    newline: str

    @classmethod
    def parse(cls, text: str) -> _Document:
        logical: list[str] = []
        for physical in _PHYSICAL_LINE.findall(text):
            if physical[:1] in (" ", "\t") and logical:
                logical[-1] += physical
            else:
                logical.append(physical)
        parts: list[str | _Block] = []
        block: _Block | None = None
        nested: _Item | None = None
        depth = 0
        for raw in logical:
            head = _unfold(raw).strip().upper()
            if head.startswith("BEGIN:"):
                depth += 1
                if depth == 2 and head == "BEGIN:VEVENT":
                    block = _Block(raw, [], "")
                    parts.append(block)
                    continue
                if block is not None and depth == 3:
                    nested = _Item(None, raw)
                    block.items.append(nested)
                    continue
            elif head.startswith("END:"):
                depth -= 1
                if block is not None and depth == 1:
                    block.end, block = raw, None
                    continue
                if block is not None and nested is not None:
                    nested.raw += raw
                    if depth == 2:
                        nested = None
                    continue
            if block is None:
                parts.append(raw)
            elif nested is not None:
                nested.raw += raw
            else:
                block.items.append(_property(raw))
        return cls(parts, "\r\n" if "\r\n" in text or not text else "\n")

    def blocks(self) -> list[_Block]:
        return [part for part in self.parts if isinstance(part, _Block)]

    def master(self) -> _Block:
        for block in self.blocks():
            if not block.is_override:
                return block
        raise EventMappingError("event", "the stored object has no master VEVENT")

    def text(self) -> str:
        return "".join(part if isinstance(part, str) else part.text() for part in self.parts)


def _escape_text(value: str) -> str:
    # RFC 5545 3.3.11; icalendar's escape_char would also turn a literal "\N" into a newline
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n"))


_TEXT_ESCAPE = re.compile(r"\\([\\;,nN])")


def _unescape_text(value: str) -> str:
    return _TEXT_ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _fold(line: str, newline: str) -> str:
    """RFC 5545 3.1 folding: at most 75 octets a line (the leading space counts), never inside
    a UTF-8 sequence, and never between a backslash or caret and the character it escapes."""
    pieces: list[str] = []
    current: list[str] = []
    size, limit = 0, 75
    for char in line:
        octets = len(char.encode())
        if current and size + octets > limit:
            carried = current.pop() if current[-1] in "\\^" and len(current) > 1 else ""
            pieces.append("".join(current))
            current, size, limit = [carried] if carried else [], len(carried), 74
        current.append(char)
        size += octets
    pieces.append("".join(current))
    return (newline + " ").join(pieces) + newline


def _line(newline: str, name: str, value: str, params: Sequence[tuple[str, str]] = ()) -> str:
    """One content line, folded; ``value`` and the ``params`` values already encoded."""
    head = name + "".join(f";{key}={encoded}" for key, encoded in params)
    return _fold(f"{head}:{value}", newline)


def _text_line(newline: str, name: str, value: str) -> str:
    return _line(newline, name, _escape_text(value))


def _plain_email(value: Any) -> str:
    """A CAL-ADDRESS value or an email without its mailto: prefix, case kept."""
    value = str(value).strip()
    return value[7:] if value.lower().startswith("mailto:") else value


def _address(value: Any) -> str:
    """The comparable form of a CAL-ADDRESS value or an email: no mailto:, lower case."""
    return _plain_email(value).lower()


def _email(value: str, field: str) -> str:
    try:
        return check_email(_plain_email(value))
    except ValueError as exc:
        raise EventMappingError(field, str(exc)) from exc


def _attendee_line(newline: str, email: str) -> str:
    return _line(newline, "ATTENDEE", f"mailto:{email}", [("PARTSTAT", "NEEDS-ACTION"),
                 ("RSVP", "TRUE"), ("ROLE", "REQ-PARTICIPANT")])


def _item_parts(item: _Item) -> tuple[str, icalendar.Parameters, str]:
    return Contentline(_unfold(item.raw)).raw_parts()


def _item_email(item: _Item) -> str:
    try:
        return _plain_email(_item_parts(item)[2])
    except ValueError:
        return ""


def _item_address(item: _Item) -> str:
    return _item_email(item).lower()


# -- times --------------------------------------------------------------------------------------


def _utc(value: dt.datetime) -> dt.datetime:
    # naive times are read as UTC, as the API's inputs and the CalDAV side do
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _instant(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return _utc(value)
    return dt.datetime.combine(value, dt.time(), dt.UTC)


def _utc_text(value: dt.date | dt.datetime) -> str:
    return _instant(value).strftime("%Y%m%dT%H%M%SZ")


def _iso_utc(value: dt.date | dt.datetime) -> str:
    return _instant(value).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _exclusive_end_day(end: dt.datetime) -> dt.date:
    # an instant after midnight still covers that day
    return end.date() if end.time() == dt.time() else end.date() + _ONE_DAY


def _zone(name: str, field: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise EventMappingError(field, f"{name!r} is not an IANA time zone") from error


def _is_utc_name(name: str) -> bool:
    return name.upper() in ("UTC", "Z", "GMT", "ETC/UTC", "ETC/GMT")


@dataclass(frozen=True)
class _TimeForm:
    """How an event writes its times: DATE, UTC, or wall-clock time in a TZID."""

    all_day: bool
    tzid: str | None = None
    tzinfo: dt.tzinfo = dt.UTC

    def params(self) -> list[tuple[str, str]]:
        if self.all_day:
            return [("VALUE", "DATE")]
        return [("TZID", param_value(self.tzid))] if self.tzid else []

    def value(self, when: dt.date | dt.datetime, time_of_day: dt.time = dt.time()) -> str:
        if self.all_day:
            day = when.date() if isinstance(when, dt.datetime) else when
            return day.strftime("%Y%m%d")
        if not isinstance(when, dt.datetime):
            when = dt.datetime.combine(when, time_of_day, self.tzinfo)
        elif when.tzinfo is None:
            when = when.replace(tzinfo=self.tzinfo)
        if self.tzid:
            return when.astimezone(self.tzinfo).strftime("%Y%m%dT%H%M%S")
        return when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")

    def until(self, until: dt.date | dt.datetime) -> str:
        """RRULE UNTIL in the form RFC 5545 demands: DATE for DATE starts, else UTC."""
        if self.all_day:
            return (until.date() if isinstance(until, dt.datetime) else until).strftime("%Y%m%d")
        if not isinstance(until, dt.datetime):
            # UNTIL is inclusive: a bare date keeps every occurrence of that local day
            until = dt.datetime.combine(until, dt.time(23, 59, 59), self.tzinfo)
        elif until.tzinfo is None:
            until = until.replace(tzinfo=self.tzinfo)
        return until.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")

    def line(self, newline: str, name: str, when: dt.date | dt.datetime) -> str:
        return _line(newline, name, self.value(when), self.params())


def _vtimezone_text(tzid: str, around: dt.date, newline: str) -> str:
    first = min(dt.date(1970, 1, 1), dt.date(around.year - 1, 1, 1))
    last = max(dt.date(2038, 1, 1), dt.date(around.year + 10, 1, 1))
    try:
        zone = icalendar.Timezone.from_tzid(tzid, first_date=first, last_date=last)
    except Exception as error:  # noqa: BLE001 - any failure means the zone cannot be described
        raise EventMappingError("timeZone", f"{tzid!r} cannot be described: {error}") from error
    text = zone.to_ical().decode()
    return text if newline == "\r\n" else text.replace("\r\n", "\n")


def _component_times(component: icalendar.cal.Component
                     ) -> tuple[dt.date | dt.datetime, dt.date | dt.datetime]:
    """DTSTART and the end (DTEND, DTSTART + DURATION, or RFC 5545's defaults)."""
    if "DTSTART" not in component:
        raise EventMappingError("from", "the stored event has no DTSTART")
    start = component["DTSTART"].dt
    if "DTEND" in component:
        return start, component["DTEND"].dt
    if "DURATION" in component:
        return start, start + component["DURATION"].dt
    return start, (start if isinstance(start, dt.datetime) else start + _ONE_DAY)


# -- recurrence ---------------------------------------------------------------------------------

_RULE_PARTS = frozenset({"FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR",
                         "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS",
                         "WKST"})
# (lowest, highest, zero allowed) per RFC 5545 3.3.10
_RULE_RANGES = {"BYSECOND": (0, 60, True), "BYMINUTE": (0, 59, True), "BYHOUR": (0, 23, True),
                "BYMONTH": (1, 12, False), "BYMONTHDAY": (-31, 31, False),
                "BYYEARDAY": (-366, 366, False), "BYWEEKNO": (-53, 53, False),
                "BYSETPOS": (-366, 366, False)}


@dataclass(frozen=True)
class _Recurrence:
    """One RRULE, EXDATE or RDATE line, parsed so it can be written in the event's time form."""

    name: str
    rule_parts: tuple[tuple[str, str], ...] = ()
    until: dt.date | dt.datetime | None = None
    dates: tuple[dt.date | dt.datetime, ...] = ()

    def line(self, newline: str, form: _TimeForm, time_of_day: dt.time) -> str:
        if self.name == "RRULE":
            value = ";".join(f"{key}={form.until(self.until) if key == 'UNTIL' else part}"
                             for key, part in self.rule_parts)
            return _line(newline, "RRULE", value)
        values = list(dict.fromkeys(form.value(when, time_of_day) for when in self.dates))
        return _line(newline, self.name, ",".join(values), form.params())


def _rule(value: str, line: str) -> _Recurrence:
    value = value.strip().upper()
    try:
        recur = icalendar.vRecur.from_ical(value)
    except ValueError as error:
        raise EventMappingError("recurrence", f"{line!r}: {error}") from None
    parts = [part.split("=", 1) for part in value.split(";") if part]
    if any(len(part) != 2 for part in parts):
        raise EventMappingError("recurrence", f"{line!r}: every rule part is KEY=VALUE")
    keys = [key for key, _ in parts]
    if "FREQ" not in keys:
        raise EventMappingError("recurrence", f"{line!r}: FREQ is required")
    if len(set(keys)) != len(keys):
        raise EventMappingError("recurrence", f"{line!r}: a rule part is repeated")
    if unknown := set(keys) - _RULE_PARTS:
        raise EventMappingError("recurrence", f"{line!r}: unknown rule part {sorted(unknown)}")
    if "COUNT" in keys and "UNTIL" in keys:
        raise EventMappingError("recurrence", f"{line!r}: COUNT and UNTIL exclude each other")
    for key in ("COUNT", "INTERVAL"):
        if key in recur and recur[key][0] < 1:
            raise EventMappingError("recurrence", f"{line!r}: {key} must be at least 1")
    for key, (lowest, highest, zero) in _RULE_RANGES.items():
        for number in recur.get(key, []):
            if not lowest <= int(number) <= highest or (number == 0 and not zero):
                raise EventMappingError("recurrence", f"{line!r}: {key}={number} is out of range")
    without_until = ";".join(f"{key}={part}" for key, part in parts if key != "UNTIL")
    try:  # the expander's own check catches what the grammar allows but it cannot expand
        dateutil_rrule.rrulestr(without_until, dtstart=dt.datetime(2000, 1, 1))
    except (ValueError, TypeError) as error:
        raise EventMappingError("recurrence", f"{line!r}: {error}") from None
    until = recur["UNTIL"][0] if "UNTIL" in recur else None
    return _Recurrence("RRULE", tuple((key, part) for key, part in parts), until=until)


def _dates(name: str, params: icalendar.Parameters, value: str, line: str) -> _Recurrence:
    value_type = str(params.get("VALUE", "")).upper()
    if value_type == "PERIOD":
        raise EventMappingError("recurrence", f"{line!r}: RDATE periods are not supported")
    tzid = params.get("TZID")
    if tzid:
        _zone(str(tzid), "recurrence")
    dates: list[dt.date | dt.datetime] = []
    for part in value.split(","):
        part = part.strip()
        try:
            if value_type == "DATE" or len(part) == 8:
                dates.append(icalendar.vDate.from_ical(part))
            else:
                dates.append(icalendar.vDatetime.from_ical(part, str(tzid) if tzid else None))
        except ValueError:
            raise EventMappingError("recurrence", f"{line!r}: {part!r} is not a date") from None
    return _Recurrence(name, dates=tuple(dates))


def _recurrence(line: str) -> _Recurrence:
    text = str(line).strip()
    if any(ord(char) < 32 for char in text):
        raise EventMappingError("recurrence", f"{line!r} holds a control character")
    if text.upper().startswith("FREQ="):
        text = "RRULE:" + text  # a bare rule, as Google and the seed's users write it
    try:
        name, params, value = Contentline(text).raw_parts()
    except ValueError:
        raise EventMappingError("recurrence",
                                f"{line!r} is not an RRULE, EXDATE or RDATE line") from None
    name = name.upper()
    if name == "RRULE":
        return _rule(value, str(line))
    if name in ("EXDATE", "RDATE"):
        return _dates(name, params, value, str(line))
    raise EventMappingError("recurrence", f"{line!r}: only RRULE, EXDATE and RDATE are accepted")


def _recurrences(lines: Sequence[str] | None) -> list[_Recurrence]:
    parsed = [_recurrence(line) for line in lines or ()]
    if sum(item.name == "RRULE" for item in parsed) > 1:
        raise EventMappingError("recurrence", "at most one RRULE is allowed")
    if parsed and not any(item.name in ("RRULE", "RDATE") for item in parsed):
        raise EventMappingError("recurrence", "EXDATE needs an RRULE or RDATE to exclude from")
    return parsed


def check_recurrence(lines: Sequence[str]) -> None:
    """Raises EventMappingError("recurrence", ...) unless every line would be accepted."""
    _recurrences(lines)


# -- create ---------------------------------------------------------------------------------


def new_event_text(data: EventInput, uid: str, organizer_email: str, now: dt.datetime) -> str:
    """A complete VCALENDAR holding one VEVENT made of ``data`` (CRLF lines, folded)."""
    newline = "\r\n"
    start, end = _utc(data.start), _utc(data.end)
    vtimezone = ""
    if data.all_day:
        if end < start:
            raise EventMappingError("to", "must not be before from")
        form = _TimeForm(True)
        first_day = start.date()
        start_value: dt.date | dt.datetime = first_day
        end_value: dt.date | dt.datetime = max(_exclusive_end_day(end), first_day + _ONE_DAY)
    else:
        if end <= start:
            raise EventMappingError("to", "must be after from")
        form = _TimeForm(False)
        if data.time_zone and not _is_utc_name(data.time_zone):
            form = _TimeForm(False, data.time_zone, _zone(data.time_zone, "timeZone"))
            vtimezone = _vtimezone_text(data.time_zone, start.date(), newline)
        start_value, end_value = start, end
    recurrences = _recurrences(data.recurrence)
    time_of_day = start.astimezone(form.tzinfo).time()
    attendees: dict[str, str] = {}
    for email in data.attendees:
        attendees.setdefault(_address(email), _email(email, "attendees"))
    stamp = _utc_text(now)

    lines = ["BEGIN:VCALENDAR" + newline, "VERSION:2.0" + newline,
             _line(newline, "PRODID", PRODID), "CALSCALE:GREGORIAN" + newline, vtimezone,
             "BEGIN:VEVENT" + newline, _text_line(newline, "UID", uid),
             _line(newline, "DTSTAMP", stamp), _line(newline, "CREATED", stamp),
             _line(newline, "LAST-MODIFIED", stamp), "SEQUENCE:0" + newline,
             form.line(newline, "DTSTART", start_value), form.line(newline, "DTEND", end_value)]
    lines += [item.line(newline, form, time_of_day) for item in recurrences]
    lines.append(_text_line(newline, "SUMMARY", data.summary))
    if data.description:
        lines.append(_text_line(newline, "DESCRIPTION", data.description))
    if data.location:
        lines.append(_text_line(newline, "LOCATION", data.location))
    if attendees:
        lines.append(_line(newline, "ORGANIZER",
                           f"mailto:{_email(organizer_email, 'organizer')}"))
        lines += [_attendee_line(newline, email) for email in attendees.values()]
    if data.event_type:
        lines.append(_text_line(newline, EVENT_TYPE, data.event_type))
    lines += ["STATUS:CONFIRMED" + newline, "TRANSP:OPAQUE" + newline,
              "END:VEVENT" + newline, "END:VCALENDAR" + newline]
    return "".join(lines)


# -- patch ----------------------------------------------------------------------------------

_TEXT_FIELDS = (("summary", "SUMMARY"), ("description", "DESCRIPTION"),
                ("location", "LOCATION"), ("event_type", EVENT_TYPE))


def _parsed(text: str) -> tuple[icalendar.Calendar, icalendar.cal.Component]:
    calendar = icalendar.Calendar.from_ical(text)
    events = calendar.walk("VEVENT")
    for event in events:
        if "RECURRENCE-ID" not in event:
            return calendar, event
    raise EventMappingError("event", "the stored object has no master VEVENT")


def _stored_form(component: icalendar.cal.Component) -> _TimeForm:
    start = component["DTSTART"]
    if not isinstance(start.dt, dt.datetime):
        return _TimeForm(True)
    tzid = start.params.get("TZID")
    if not tzid or start.dt.tzinfo is None or _is_utc_name(str(tzid)):
        return _TimeForm(False)
    return _TimeForm(False, str(tzid), start.dt.tzinfo)


def _bump(block: _Block, newline: str, now: dt.datetime, sequence: int | None) -> None:
    stamp = _utc_text(now)
    block.replace({"DTSTAMP"}, [_line(newline, "DTSTAMP", stamp)], ["UID"])
    block.replace({"LAST-MODIFIED"}, [_line(newline, "LAST-MODIFIED", stamp)], ["DTSTAMP"])
    if sequence is not None:
        block.replace({"SEQUENCE"}, [f"SEQUENCE:{sequence}{newline}"], ["LAST-MODIFIED"])


def _patch_times(document: _Document, block: _Block, calendar: icalendar.Calendar,
                 component: icalendar.cal.Component, patch: EventPatch) -> _TimeForm | None:
    """Rewrites DTSTART/DTEND (and recurrence values whose form must follow) when the patch
    moves the event; returns the new time form, or None when the times did not change."""
    old_form = _stored_form(component)
    old_start, old_end = _component_times(component)
    form = old_form
    if patch.given("time_zone") or patch.given("all_day"):
        all_day = old_form.all_day if patch.all_day is UNSET else bool(patch.all_day)
        zone_name = old_form.tzid if patch.time_zone is UNSET else patch.time_zone
        if all_day:
            form = _TimeForm(True)
        elif zone_name and not _is_utc_name(zone_name):
            zone = (old_form.tzinfo if zone_name == old_form.tzid
                    else _zone(zone_name, "timeZone"))
            form = _TimeForm(False, zone_name, zone)
        else:
            form = _TimeForm(False)

    def as_instant(value: dt.date | dt.datetime) -> dt.datetime:
        # an all-day value turned into a time starts at midnight in the new zone
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return dt.datetime.combine(value, dt.time(), form.tzinfo)

    start_at = _utc(patch.start) if isinstance(patch.start, dt.datetime) else as_instant(old_start)
    if isinstance(patch.end, dt.datetime):
        end_at = _utc(patch.end)
    elif patch.given("start"):
        end_at = start_at + (as_instant(old_end) - as_instant(old_start))
    else:
        end_at = as_instant(old_end)
    if end_at < start_at or (patch.given("end") and end_at == start_at and not form.all_day):
        raise EventMappingError("to", "must be after from")

    new_start: dt.date | dt.datetime
    new_end: dt.date | dt.datetime
    if form.all_day:
        new_start = start_at.date()
        if old_form.all_day and not patch.given("end"):
            new_end = new_start + (old_end - old_start)  # type: ignore[operator]
        else:
            new_end = _exclusive_end_day(end_at)
        new_end = max(new_end, new_start + _ONE_DAY)
        unchanged = old_form.all_day and (new_start, new_end) == (old_start, old_end)
    else:
        new_start, new_end = start_at, end_at
        unchanged = (not old_form.all_day and old_form.tzid == form.tzid
                     and (_instant(old_start), _instant(old_end)) == (start_at, end_at))
    if unchanged:
        return None

    newline = document.newline
    block.replace({"DTSTART"}, [form.line(newline, "DTSTART", new_start)], ["UID"])
    same_kind = form.all_day == old_form.all_day
    # a DURATION (or the implied one of an event without end) still holds when only start moves
    keeps_duration = not patch.given("end") and same_kind and (
        bool(block.props("DURATION")) or not block.props("DTEND"))
    if not keeps_duration:
        block.replace({"DTEND", "DURATION"}, [form.line(newline, "DTEND", new_end)],
                      ["DTSTART"])
    if form.tzid and form.tzid != old_form.tzid:
        known = {str(zone.get("TZID")) for zone in calendar.walk("VTIMEZONE")}
        if form.tzid not in known:
            at = next(i for i, part in enumerate(document.parts) if isinstance(part, _Block))
            document.parts.insert(at, _vtimezone_text(form.tzid, start_at.date(), newline))

    if not patch.given("recurrence"):
        _move_recurrence(block, newline, old_form, form, old_start, new_start)
    return form


def _wall(value: dt.date | dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The wall-clock time of ``value`` in ``zone`` (a date is its midnight; floating as is)."""
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    return value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value


def _move_recurrence(block: _Block, newline: str, old_form: _TimeForm, form: _TimeForm,
                     old_start: dt.date | dt.datetime, new_start: dt.date | dt.datetime) -> None:
    """Moves the stored UNTIL, EXDATE and RDATE values with DTSTART (as Thunderbird does), in
    wall-clock time, so an excluded instance stays excluded and the last one stays in; they also
    take DTSTART's new value type, as RFC 5545 demands. Overridden instances are not touched."""
    delta = _wall(new_start, form.tzinfo) - _wall(old_start, old_form.tzinfo)

    old_time = _wall(old_start, old_form.tzinfo).time()

    def moved(value: dt.date | dt.datetime, until: bool = False) -> dt.date | dt.datetime:
        if not isinstance(value, dt.datetime) and not old_form.all_day:
            # a DATE in a timed series: a whole-day UNTIL, or that day's occurrence
            value = dt.datetime.combine(value, dt.time(23, 59, 59) if until else old_time)
        wall = _wall(value, old_form.tzinfo) + delta
        return wall.date() if form.all_day else wall.replace(tzinfo=form.tzinfo)

    for item in block.items:
        if item.name not in ("RRULE", "EXDATE", "RDATE"):
            continue
        try:
            parsed = _recurrence(_unfold(item.raw))
        except EventMappingError:
            continue  # a form we do not rewrite (PERIOD, a custom TZID) stays as written
        if parsed.name == "RRULE" and parsed.until is None:
            continue
        parsed = _Recurrence(parsed.name, parsed.rule_parts,
                             moved(parsed.until, until=True) if parsed.until is not None else None,
                             tuple(moved(when) for when in parsed.dates))
        raw = parsed.line(newline, form, dt.time())
        if _unfold(raw) != _unfold(item.raw):
            item.raw = raw


def patch_event_text(text: str, patch: EventPatch, now: dt.datetime,
                     organizer_email: str | None = None) -> PatchResult:
    """Applies ``patch`` to the master VEVENT of ``text``, rewriting only the named properties.

    ``organizer_email`` becomes the ORGANIZER when attendees are added to an event without one.
    """
    document = _Document.parse(text)
    block = document.master()
    calendar, component = _parsed(text)
    newline = document.newline
    changed: set[str] = set()

    for field, name in _TEXT_FIELDS:
        if not patch.given(field):
            continue
        value = getattr(patch, field) or None
        old = str(component[name]) if isinstance(component.get(name), str) else None
        if value == old and len(block.props(name)) <= 1:
            continue
        block.replace({name}, [_text_line(newline, name, value)] if value else [],
                      ["SUMMARY", "DTEND", "DTSTART"])
        changed.add(field)

    form: _TimeForm | None = None
    if any(patch.given(name) for name in ("start", "end", "all_day", "time_zone")):
        form = _patch_times(document, block, calendar, component, patch)
        if form is not None:
            changed.add("times")

    if patch.given("recurrence"):
        form = form or _stored_form(component)
        start_value = _utc(patch.start) if isinstance(patch.start, dt.datetime) else \
            _instant(component["DTSTART"].dt)
        time_of_day = start_value.astimezone(form.tzinfo).time()
        lines = [item.line(newline, form, time_of_day)
                 for item in _recurrences(patch.recurrence or [])]  # type: ignore[arg-type]
        old = [_unfold(item.raw) for item in block.items if item.name in RECURRENCE_PROPERTIES]
        if [_unfold(line) for line in lines] != old:
            block.replace(RECURRENCE_PROPERTIES, lines, ["DTEND", "DURATION", "DTSTART"])
            changed.add("recurrence")

    added, removed = _patch_attendees(block, patch, newline, organizer_email)
    if added or removed:
        changed.add("attendees")

    if not changed:
        return PatchResult(text, frozenset())
    try:
        sequence = int(component.get("SEQUENCE", 0)) + 1
    except (TypeError, ValueError):
        sequence = 1
    _bump(block, newline, now, sequence)
    return PatchResult(document.text(), frozenset(changed), tuple(added), tuple(removed))


def _patch_attendees(block: _Block, patch: EventPatch, newline: str,
                     organizer_email: str | None) -> tuple[list[str], list[str]]:
    to_remove = {_address(_email(email, "removeAttendees")) for email in patch.remove_attendees}
    to_add: dict[str, str] = {}
    for email in patch.add_attendees:
        to_add.setdefault(_address(email), _email(email, "addAttendees"))
    if both := to_remove & set(to_add):
        raise EventMappingError("removeAttendees",
                                f"{sorted(both)} also in addAttendees")
    present = {_item_address(item): _item_email(item) for item in block.props("ATTENDEE")}
    removed = [email for address, email in present.items() if address in to_remove]
    if removed:
        block.items = [item for item in block.items
                       if not (item.name == "ATTENDEE" and _item_address(item) in to_remove)]
    added = [email for address, email in to_add.items() if address not in present]
    if added:
        if not block.props("ORGANIZER") and organizer_email:
            block.insert([_line(newline, "ORGANIZER",
                                f"mailto:{_email(organizer_email, 'organizer')}")],
                         ["LOCATION", "DESCRIPTION", "SUMMARY"])
        block.insert([_attendee_line(newline, email) for email in added],
                      ["ATTENDEE", "ORGANIZER"])
    if removed and not block.props("ATTENDEE"):
        block.replace({"ORGANIZER"}, [])  # no attendees left: no longer a meeting
    return added, removed


# -- respond --------------------------------------------------------------------------------


def respond_text(text: str, attendee_email: str, status: ResponseStatus, comment: str | None,
                 now: dt.datetime) -> str:
    """Records an attendee's answer: PARTSTAT on their ATTENDEE line in the master and every
    override naming them, the comment as X-RESPONSE-COMMENT (cleared when None), DTSTAMP and
    LAST-MODIFIED rewritten in those VEVENTs; SEQUENCE and RSVP are kept."""
    if status not in _PARTSTAT:
        raise EventMappingError("status", f"{status!r} is not accepted, declined or tentative")
    document = _Document.parse(text)
    document.master()
    wanted = _address(attendee_email)
    for block in document.blocks():
        if any(_item_address(item) == wanted for item in block.props("ORGANIZER")):
            raise OrganizerCannotRespond(f"{attendee_email} organizes this event")
    touched = False
    for block in document.blocks():
        block_touched = False
        for item in block.props("ATTENDEE"):
            if _item_address(item) != wanted:
                continue
            name, params, value = _item_parts(item)
            params["PARTSTAT"] = _PARTSTAT[status]
            if comment:
                params[RESPONSE_COMMENT] = comment
            else:
                params.pop(RESPONSE_COMMENT, None)
            encoded = [(key.upper(), param_value(param, always_quote=key.upper() ==
                                                 RESPONSE_COMMENT))
                       for key, param in params.items()]
            item.raw = _line(document.newline, name.upper(), value, encoded)
            block_touched = True
        if block_touched:
            _bump(block, document.newline, now, None)
            touched = True
    if not touched:
        raise NotAnAttendee(f"{attendee_email} is not an attendee of this event")
    return document.text()


# -- read -----------------------------------------------------------------------------------

_INSTANCE_ID = re.compile(r"^(?P<series>.+)_(?P<key>\d{8}(?:T\d{6}Z)?)$")


def instance_key(recurrence_id: dt.date | dt.datetime) -> str:
    """An instance's original start as YYYYMMDDTHHMMSSZ (UTC) or YYYYMMDD (all-day)."""
    if isinstance(recurrence_id, dt.datetime):
        return _utc_text(recurrence_id)
    return recurrence_id.strftime("%Y%m%d")


def instance_id(series_id: str, recurrence_id: dt.date | dt.datetime) -> str:
    """The public id of one instance of a series: ``<series id>_<instance key>``."""
    return f"{series_id}_{instance_key(recurrence_id)}"


def parse_instance_id(event_id: str) -> tuple[str, dt.date | dt.datetime | None]:
    """(series id, original start) of an instance id; (event_id, None) for any other id."""
    match = _INSTANCE_ID.match(event_id)
    if not match:
        return event_id, None
    key = match.group("key")
    try:
        if len(key) == 8:
            return match.group("series"), dt.datetime.strptime(key, "%Y%m%d").date()
        when = dt.datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return event_id, None
    return match.group("series"), when


def find_instance(text: str, key: dt.date | dt.datetime,
                  calendar: icalendar.Calendar | None = None) -> icalendar.cal.Component | None:
    """The expanded instance of the series in ``text`` whose original start is ``key`` (as from
    ``parse_instance_id``), overrides applied; None when the series has no such instance."""
    calendar = calendar or icalendar.Calendar.from_ical(text)
    wanted = instance_key(key)
    windows: list[tuple[dt.date | dt.datetime, dt.date | dt.datetime]] = []
    for event in calendar.walk("VEVENT"):
        recurrence_id = event.get("RECURRENCE-ID")
        if recurrence_id is not None and instance_key(recurrence_id.dt) == wanted:
            start, end = _component_times(event)
            windows.append((_instant(start), max(_instant(end), _instant(start)
                                                 + dt.timedelta(seconds=1))))
    if isinstance(key, dt.datetime):
        windows.append((_utc(key), _utc(key) + dt.timedelta(seconds=1)))
    else:
        windows.append((key, key + _ONE_DAY))
    series = series_of(calendar)  # bounded: rules re-anchored at the (short) windows
    for start, end in windows:
        for found in instances(series, start, end, Limits.max_instances):
            instance = found.component()
            recurrence_id = instance.get("RECURRENCE-ID")
            if recurrence_id is not None and instance_key(recurrence_id.dt) == wanted:
                return instance
    return None


def event_window(text: str) -> tuple[dt.datetime, dt.datetime]:
    """The master's start and end as UTC instants (all-day dates from midnight UTC)."""
    _, component = _parsed(text)
    start, end = _component_times(component)
    return _instant(start), _instant(end)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _zone_name(when: dt.datetime, tzid: str | None) -> str:
    if tzid:
        return tzid
    key = getattr(when.tzinfo, "key", None)
    if key:
        return str(key)
    return "UTC" if when.utcoffset() == dt.timedelta(0) else str(when.tzinfo)


def _time_json(prop: Any, render_zone: zoneinfo.ZoneInfo | None,
               fallback_tzid: str | None = None) -> dict[str, str]:
    """{"dateTime", "timeZone"} or {"date"} of a date/time property or a bare value."""
    value = prop.dt if hasattr(prop, "dt") else prop
    if not isinstance(value, dt.datetime):
        return {"date": value.isoformat()}
    tzid = getattr(prop, "params", {}).get("TZID") or fallback_tzid
    if value.tzinfo is None:
        value, tzid = value.replace(tzinfo=dt.UTC), None
    if render_zone is not None:
        value, tzid = value.astimezone(render_zone), render_zone.key
    return {"dateTime": value.replace(microsecond=0).isoformat(),
            "timeZone": _zone_name(value, str(tzid) if tzid else None)}


def _response(partstat: Any) -> str:
    return str(partstat or "NEEDS-ACTION").lower().replace("-", "_")


def _attendee_json(attendee: Any, organizer: str | None, viewer: str | None) -> dict[str, Any]:
    params = getattr(attendee, "params", {})
    email = _address(attendee)
    return {"email": _plain_email(attendee),
            "name": str(params["CN"]) if params.get("CN") else None,
            "response": _response(params.get("PARTSTAT")),
            "optional": str(params.get("ROLE", "")).upper() in ("OPT-PARTICIPANT",
                                                                 "NON-PARTICIPANT"),
            "comment": str(params[RESPONSE_COMMENT]) if params.get(RESPONSE_COMMENT) else None,
            "isOrganizer": organizer is not None and email == organizer,
            "isSelf": viewer is not None and email == viewer}


def _text_or_none(component: icalendar.cal.Component, name: str) -> str | None:
    value = component.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or str(value) == "":
        return None
    if not isinstance(value, icalendar.vText):
        return _unescape_text(str(value))  # an X- property icalendar keeps as written
    return str(value)


def _stamp(component: icalendar.cal.Component, *names: str) -> str | None:
    for name in names:
        if name in component and hasattr(component[name], "dt"):
            return _iso_utc(component[name].dt)
    return None


def event_json(text: str, *, event_id: str, calendar_id: int, etag: str,
               instance: icalendar.cal.Component | None = None,
               viewer_email: str | None = None, time_zone: str | None = None,
               created: dt.datetime | None = None, updated: dt.datetime | None = None,
               calendar: icalendar.Calendar | None = None) -> dict[str, Any]:
    """The API's read shape of the stored object (the series or single event), or of one
    expanded ``instance`` of it (from recurring_ical_events or ``find_instance``).

    ``time_zone`` renders start/end in that zone instead of the event's own; ``created`` and
    ``updated`` default to CREATED and LAST-MODIFIED (else DTSTAMP); ``calendar`` is the parsed
    text when the caller already has it.
    """
    calendar = calendar or icalendar.Calendar.from_ical(text)
    events = calendar.walk("VEVENT")
    master = next((event for event in events if "RECURRENCE-ID" not in event), None)
    source = instance if instance is not None else master if master is not None else events[0]
    render_zone = (_zone(time_zone, "timeZone")
                   if time_zone and not _is_utc_name(time_zone) else None)
    if time_zone and render_zone is None:
        render_zone = zoneinfo.ZoneInfo("UTC")

    series_recurring = master is not None and any(name in master for name in ("RRULE", "RDATE"))
    recurring = series_recurring or any("RECURRENCE-ID" in event for event in events)
    recurrence_id = source.get("RECURRENCE-ID") if instance is not None else None
    is_instance = recurrence_id is not None and recurring

    start, end = _component_times(source)
    start_prop = source["DTSTART"]
    start_tzid = start_prop.params.get("TZID")
    end_prop = source["DTEND"] if "DTEND" in source else end
    start_json = _time_json(start_prop, render_zone)
    end_json = _time_json(end_prop, render_zone, str(start_tzid) if start_tzid else None)
    organizer_value = source.get("ORGANIZER") or (master.get("ORGANIZER") if master else None)
    organizer = _address(organizer_value) if organizer_value is not None else None
    viewer = _address(viewer_email) if viewer_email else None
    attendees = [_attendee_json(attendee, organizer, viewer)
                 for attendee in _as_list(source.get("ATTENDEE"))]
    self_response = next((a["response"] for a in attendees if a["isSelf"]), None)
    recurrence: list[str] = []
    if not is_instance:
        try:
            recurrence = [_unfold(item.raw) for item in _Document.parse(text).master().items
                          if item.name in RECURRENCE_PROPERTIES]
        except EventMappingError:
            recurrence = []
    summary = _text_or_none(source, "SUMMARY") or ""
    join_url = next((str(source[name]) for name in ("CONFERENCE", "X-GOOGLE-CONFERENCE",
                                                    "X-MICROSOFT-SKYPETEAMSMEETINGURL")
                     if name in source and not isinstance(source[name], list)), None)
    labels = [str(category) for value in _as_list(source.get("CATEGORIES"))
              for category in getattr(value, "cats", [value])]
    visibility = {"PUBLIC": "public", "PRIVATE": "private",
                  "CONFIDENTIAL": "confidential"}.get(str(source.get("CLASS", "")).upper(),
                                                      "default")
    all_day = not isinstance(start, dt.datetime)
    start_utc, end_utc = _instant(start), _instant(end)

    return {
        "id": instance_id(event_id, recurrence_id.dt) if is_instance else event_id,
        "calendarId": calendar_id,
        "iCalUID": _text_or_none(source, "UID"),
        "title": summary,
        "summary": summary,
        "description": _text_or_none(source, "DESCRIPTION"),
        "location": _text_or_none(source, "LOCATION"),
        "start": start_json,
        "end": end_json,
        "startUtc": _iso_utc(start_utc),
        "endUtc": _iso_utc(end_utc),
        "startLocal": start_json.get("dateTime", start.isoformat()),
        "endLocal": end_json.get("dateTime", end.isoformat()),
        "durationMinutes": int((end_utc - start_utc).total_seconds() // 60),
        "allDay": all_day,
        "isAllDay": all_day,
        "status": str(source.get("STATUS", "CONFIRMED")).lower(),
        "transparency": str(source.get("TRANSP", "OPAQUE")).lower(),
        "visibility": visibility,
        "organizer": _plain_email(organizer_value) if organizer_value is not None else None,
        "organizerName": (str(organizer_value.params["CN"])
                          if organizer_value is not None and organizer_value.params.get("CN")
                          else None),
        "attendees": attendees,
        "responseStatus": self_response,
        "recurrence": recurrence,
        "isRecurringEvent": recurring,
        "recurringEventId": event_id if is_instance else None,
        "originalStartTime": _time_json(recurrence_id, render_zone) if is_instance else None,
        "eventType": _text_or_none(source, EVENT_TYPE),
        "joinUrl": join_url,
        "labels": labels,
        "sequence": int(source.get("SEQUENCE", 0)),
        "etag": etag,
        "createdAt": _iso_utc(created) if created else _stamp(source, "CREATED", "DTSTAMP"),
        "updatedAt": (_iso_utc(updated) if updated
                      else _stamp(source, "LAST-MODIFIED", "DTSTAMP")),
    }
