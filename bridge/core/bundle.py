"""Join stored objects into one VCALENDAR (a collection GET, later the .ics feeds): pure
string work over the stored text, each VTIMEZONE once, nothing parsed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from icalendar import Parameters, vText
from icalendar.parser import Contentline

from bridge.core.codec import Document


def _components(text: str) -> tuple[list[tuple[str, str]], str]:
    """(VTIMEZONE blocks with their TZID, the other components) of one stored object."""
    if "\r\n" not in text:
        text = text.replace("\n", "\r\n")
    zones: list[tuple[str, str]] = []
    body: list[str] = []
    between: list[str] = []  # raw text after a component, kept if another one follows
    for part in Document.parse(text).parts:
        if isinstance(part, str):
            if zones or body:
                between.append(part)
        elif part.name == "VTIMEZONE":
            zones.append(((part.first_value("TZID") or "").strip(), part.text()))
            body += between
            between = []
        else:
            body += between
            body.append(part.text())
            between = []
    return zones, "".join(body)


# Left out of a published feed unless its creator asked for them: the owner's reminders, and
# the addresses, names and comments of everyone invited. Whole content lines are dropped (CN
# too: who attends is as private as their address).
PRIVATE_PROPERTIES = frozenset({"ATTENDEE", "ORGANIZER"})
_PRIVATE_HINT = re.compile(r"^(?:ATTENDEE|ORGANIZER|BEGIN:VALARM)", re.IGNORECASE | re.MULTILINE)
_NAME = re.compile(r"[^;:]*")


def without_private_data(text: str) -> str:
    """``text`` without its VALARM components and ATTENDEE and ORGANIZER properties; every
    other line stays byte for byte (and a text holding none of them is returned as is)."""
    if not _PRIVATE_HINT.search(text):
        return text
    kept: list[str] = []
    alarms = 0
    dropping = False
    # Split on LF only: str.splitlines would also split inside a value at U+2028 and friends.
    for line in text.split("\n"):
        if line[:1] in (" ", "\t"):  # a folded continuation goes with its line
            if not dropping:
                kept.append(line)
            continue
        content = line.rstrip("\r").upper()
        if content == "BEGIN:VALARM":
            alarms += 1
        name = _NAME.match(content)
        dropping = alarms > 0 or (name is not None and name.group() in PRIVATE_PROPERTIES)
        if content == "END:VALARM" and alarms:
            alarms -= 1
        if not dropping:
            kept.append(line)
    return "\n".join(kept)


def text_line(name: str, value: str) -> str:
    """One TEXT property as a folded content line, without its CRLF."""
    return Contentline.from_parts(name, Parameters(), vText(value)).to_ical().decode()


def calendar_header(name: str | None = None, description: str | None = None,
                    extra_lines: Iterable[str] = ()) -> str:
    """BEGIN:VCALENDAR and the calendar's properties, each line ending in CRLF."""
    header = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calbridge//calbridge//EN"]
    for key, value in (("X-WR-CALNAME", name), ("X-WR-CALDESC", description)):
        if value:
            header.append(text_line(key, value))
    header.extend(extra_lines)
    return "\r\n".join(header) + "\r\n"


def stream_calendar(timezone_texts: Iterable[str], texts: Iterable[str],
                    name: str | None = None, description: str | None = None,
                    extra_lines: Iterable[str] = ()) -> Iterator[str]:
    """bundle_calendar in pieces, for calendars too large to build at once.

    Yields the header, each VTIMEZONE of ``timezone_texts`` once, the components of
    ``texts``, then the end. ``timezone_texts`` must hold every text of ``texts`` that has a
    VTIMEZONE (a superset is fine); a zone it missed is still written once, before the end.
    """
    yield calendar_header(name, description, extra_lines)
    seen: set[str] = set()
    for text in timezone_texts:
        for tzid, block in _components(text)[0]:
            if tzid not in seen:
                seen.add(tzid)
                yield block
    late: dict[str, str] = {}
    for text in texts:
        zones, body = _components(text)
        for tzid, block in zones:
            if tzid not in seen:
                late.setdefault(tzid, block)
        yield body
    yield "".join(late.values()) + "END:VCALENDAR\r\n"


def bundle_calendar(texts: Iterable[str], name: str | None = None,
                    description: str | None = None, extra_lines: Iterable[str] = ()) -> str:
    timezones: dict[str, str] = {}
    bodies: list[str] = []
    for text in texts:
        zones, body = _components(text)
        for tzid, block in zones:
            timezones.setdefault(tzid, block)
        bodies.append(body)
    return calendar_header(name, description, extra_lines) + "".join(timezones.values()) + \
        "".join(bodies) + "END:VCALENDAR\r\n"
