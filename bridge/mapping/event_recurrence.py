"""Recurrence input (RRULE, EXDATE and RDATE lines) checked early and written in the event's
time form.

Decisions:
* A bare rule (``FREQ=...``) is read as an RRULE line, as Google and the seed's users write it.
* Rules are checked against RFC 5545 3.3.10 and then by the expander itself (dateutil), so
  whatever is accepted here can be expanded later.
* RDATE periods are refused; at most one RRULE; an EXDATE needs an RRULE or RDATE.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import icalendar
from dateutil import rrule as dateutil_rrule
from icalendar.parser import Contentline

from bridge.core.codec import content_line
from bridge.mapping.event_errors import EventMappingError
from bridge.mapping.event_times import TimeForm, zone_named

_RULE_PARTS = frozenset({"FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR",
                         "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS",
                         "WKST"})
# (lowest, highest, zero allowed) per RFC 5545 3.3.10
_RULE_RANGES = {"BYSECOND": (0, 60, True), "BYMINUTE": (0, 59, True), "BYHOUR": (0, 23, True),
                "BYMONTH": (1, 12, False), "BYMONTHDAY": (-31, 31, False),
                "BYYEARDAY": (-366, 366, False), "BYWEEKNO": (-53, 53, False),
                "BYSETPOS": (-366, 366, False)}


@dataclass(frozen=True)
class Recurrence:
    """One RRULE, EXDATE or RDATE line, parsed so it can be written in the event's time form."""

    name: str
    rule_parts: tuple[tuple[str, str], ...] = ()
    until: dt.date | dt.datetime | None = None
    dates: tuple[dt.date | dt.datetime, ...] = ()

    def line(self, newline: str, form: TimeForm, time_of_day: dt.time) -> str:
        if self.name == "RRULE":
            value = ";".join(f"{key}={self._part(key, part, form)}"
                             for key, part in self.rule_parts)
            return content_line(newline, "RRULE", value)
        values = list(dict.fromkeys(form.value(when, time_of_day) for when in self.dates))
        return content_line(newline, self.name, ",".join(values), form.params())

    def _part(self, key: str, part: str, form: TimeForm) -> str:
        # UNTIL is written in the event's (possibly new) time form
        return form.until(self.until) if key == "UNTIL" and self.until is not None else part


def _rule(value: str, line: str) -> Recurrence:
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
    return Recurrence("RRULE", tuple((key, part) for key, part in parts), until=until)


def _dates(name: str, params: icalendar.Parameters, value: str, line: str) -> Recurrence:
    value_type = str(params.get("VALUE", "")).upper()
    if value_type == "PERIOD":
        raise EventMappingError("recurrence", f"{line!r}: RDATE periods are not supported")
    tzid = params.get("TZID")
    if tzid:
        zone_named(str(tzid), "recurrence")
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
    return Recurrence(name, dates=tuple(dates))


def parse_recurrence(line: str) -> Recurrence:
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


def recurrences(lines: Sequence[str] | None) -> list[Recurrence]:
    parsed = [parse_recurrence(line) for line in lines or ()]
    if sum(item.name == "RRULE" for item in parsed) > 1:
        raise EventMappingError("recurrence", "at most one RRULE is allowed")
    if parsed and not any(item.name in ("RRULE", "RDATE") for item in parsed):
        raise EventMappingError("recurrence", "EXDATE needs an RRULE or RDATE to exclude from")
    return parsed


def check_recurrence(lines: Sequence[str]) -> None:
    """Raises EventMappingError("recurrence", ...) unless every line would be accepted."""
    recurrences(lines)

