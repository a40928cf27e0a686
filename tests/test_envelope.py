"""The envelope from icalendar equals Radicale's own ``Item.time_range`` (a differential test).

The corpus mixes hand-written edge cases of RFC 4791 9.9 (all-day, floating, DURATION, no
DTEND, VTODO and VJOURNAL variants, finite and infinite rules, overrides) with seeded random
combinations. Where Radicale raises, calbridge refuses too, or (VFREEBUSY, VAVAILABILITY,
documented in bridge/core/envelope.py) answers with a wider envelope.
"""

from __future__ import annotations

import random

import pytest

from bridge.core.envelope import envelope
from bridge.core.index import TIMESTAMP_MAX, TIMESTAMP_MIN, InvalidObject, parse_object
from tests import caldav_data as data
from tests.radicale_reference import radicale_envelope

H, F, B = data.HEADER, data.FOOTER, data.BERLIN


def vevent(lines: str, uid: str = "e") -> str:
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n{lines}END:VEVENT\r\n"


def obj(*components: str, timezone: bool = False) -> str:
    return H + (B if timezone else "") + "".join(components) + F


def comp(name: str, lines: str) -> str:
    return f"BEGIN:{name}\r\nUID:c\r\nDTSTAMP:20260101T000000Z\r\n{lines}END:{name}\r\n"


BERLIN_START = "DTSTART;TZID=Europe/Berlin:20261102T090000\r\n"
EVENTS = {
    "utc": "DTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\n",
    "floating": "DTSTART:20261201T100000\r\nDTEND:20261201T113000\r\n",
    "all-day": "DTSTART;VALUE=DATE:20261201\r\nDTEND;VALUE=DATE:20261202\r\n",
    "all-day-3": "DTSTART;VALUE=DATE:20261201\r\nDTEND;VALUE=DATE:20261204\r\n",
    "all-day-no-end": "DTSTART;VALUE=DATE:20261201\r\n",
    "no-end": "DTSTART:20261201T100000Z\r\n",
    "duration": "DTSTART:20261201T100000Z\r\nDURATION:PT45M\r\n",
    "duration-zero": "DTSTART:20261201T100000Z\r\nDURATION:PT0S\r\n",
    "duration-date": "DTSTART;VALUE=DATE:20261201\r\nDURATION:P2D\r\n",
    "end-before-start": "DTSTART:20261201T100000Z\r\nDTEND:20261201T090000Z\r\n",
    "floating-start-utc-end": "DTSTART:20261201T100000\r\nDTEND:20261201T120000Z\r\n",
    "utc-start-floating-end": "DTSTART:20261201T100000Z\r\nDTEND:20261201T120000\r\n",
    "count": "DTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\n"
             "RRULE:FREQ=DAILY;COUNT=5\r\n",
    "until-utc": BERLIN_START + "DURATION:PT1H\r\nRRULE:FREQ=WEEKLY;UNTIL=20261231T000000Z\r\n",
    "until-date-on-datetime": BERLIN_START + "RRULE:FREQ=DAILY;UNTIL=20261110\r\n",
    "until-date-on-date": "DTSTART;VALUE=DATE:20261201\r\nRRULE:FREQ=DAILY;UNTIL=20261205\r\n",
    "until-floating": "DTSTART:20261201T100000\r\nRRULE:FREQ=DAILY;UNTIL=20261205T100000\r\n",
    "until-first": "DTSTART:20261201T100000Z\r\nRRULE:UNTIL=20261205T100000Z;FREQ=DAILY\r\n",
    "count-first": "DTSTART:20261201T100000Z\r\nRRULE:COUNT=3;FREQ=DAILY\r\n",
    "infinite": "DTSTART:20261201T100000Z\r\nDURATION:PT30M\r\nRRULE:FREQ=DAILY\r\n",
    "infinite-first-excluded": "DTSTART:20261201T100000Z\r\nRRULE:FREQ=DAILY\r\n"
                               "EXDATE:20261201T100000Z\r\n",
    "infinite-all-day": "DTSTART;VALUE=DATE:20201205\r\nDTEND;VALUE=DATE:20201206\r\n"
                        "RRULE:FREQ=YEARLY\r\n",
    "dtstart-off-rule": "DTSTART:20261202T100000Z\r\nDTEND:20261202T110000Z\r\n"
                        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3\r\n",
    "rrule-rdate": "DTSTART:20261201T100000Z\r\nRRULE:FREQ=DAILY;COUNT=2\r\n"
                   "RDATE:20270101T100000Z,20250101T100000Z\r\n",
    "rdate-only": "DTSTART:20261201T100000Z\r\nDTEND:20261201T103000Z\r\n"
                  "RDATE:20261215T100000Z\r\n",
    "rdate-date": "DTSTART;VALUE=DATE:20261201\r\nRDATE;VALUE=DATE:20261224\r\n",
    "rdate-period": "DTSTART:20261201T100000Z\r\n"
                    "RDATE;VALUE=PERIOD:20261215T100000Z/PT1H\r\n",
    "exdate-only": "DTSTART:20261201T100000Z\r\nEXDATE:20261201T100000Z\r\n",
    "exdate-last": "DTSTART:20261201T100000Z\r\nRRULE:FREQ=DAILY;COUNT=4\r\n"
                   "EXDATE:20261204T100000Z\r\n",
    "two-rrules": "DTSTART:20261201T100000Z\r\nRRULE:FREQ=DAILY;COUNT=2\r\n"
                  "RRULE:FREQ=WEEKLY;COUNT=3\r\n",
    "exrule": "DTSTART:20261201T100000Z\r\nRRULE:FREQ=DAILY;COUNT=10\r\n"
              "EXRULE:FREQ=DAILY;COUNT=10;INTERVAL=2\r\n",
    "monthly-berlin": BERLIN_START + "DTEND;TZID=Europe/Berlin:20261102T100000\r\n"
                                     "RRULE:FREQ=MONTHLY;COUNT=12\r\n",
}

SERIES_WITH_OVERRIDES = {
    "moved-last-earlier": (
        "DTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\n",
        ["RECURRENCE-ID:20261203T100000Z\r\nDTSTART:20261130T080000Z\r\n"
         "DTEND:20261130T090000Z\r\n"]),
    "moved-first-later": (
        "DTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\n",
        ["RECURRENCE-ID:20261201T100000Z\r\nDTSTART:20261202T120000Z\r\n"
         "DTEND:20261202T130000Z\r\n"]),
    "all-day-moved": (
        "DTSTART;VALUE=DATE:20261201\r\nRRULE:FREQ=DAILY;COUNT=3\r\n",
        ["RECURRENCE-ID;VALUE=DATE:20261203\r\nDTSTART;VALUE=DATE:20261130\r\n"]),
    "berlin-override": (
        BERLIN_START + "DTEND;TZID=Europe/Berlin:20261102T100000\r\n"
                       "RRULE:FREQ=WEEKLY;COUNT=4\r\n",
        ["RECURRENCE-ID;TZID=Europe/Berlin:20261123T090000\r\n"
         "DTSTART;TZID=Europe/Berlin:20261101T070000\r\nDURATION:PT2H\r\n"]),
    "infinite-with-override": (
        "DTSTART:20261201T100000Z\r\nRRULE:FREQ=DAILY\r\n",
        ["RECURRENCE-ID:20261201T100000Z\r\nDTSTART:20261125T100000Z\r\n"]),
    "override-only": (None, ["RECURRENCE-ID:20261201T100000Z\r\nDTSTART:20261201T120000Z\r\n"
                             "DTEND:20261201T130000Z\r\n"]),
}

TODOS = {
    "start-duration": "DTSTART:20261201T100000Z\r\nDURATION:PT2H\r\n",
    "start-due": "DTSTART:20261201T100000Z\r\nDUE:20261203T100000Z\r\n",
    "due-before-start": "DTSTART:20261201T100000Z\r\nDUE:20261130T100000Z\r\n",
    "start-only": "DTSTART:20261201T100000Z\r\n",
    "due-only": "DUE:20261201T100000Z\r\n",
    "due-date": "DUE;VALUE=DATE:20261201\r\n",
    "completed-created": "COMPLETED:20261205T100000Z\r\nCREATED:20261101T100000Z\r\n",
    "completed-only": "COMPLETED:20261205T100000Z\r\n",
    "created-only": "CREATED:20261101T100000Z\r\n",
    "nothing": "SUMMARY:someday\r\n",
    "recurring-start-due": "DTSTART:20261201T100000Z\r\nDUE:20261201T120000Z\r\n"
                           "RRULE:FREQ=WEEKLY;COUNT=4\r\n",
    "recurring-due-only": "DUE:20261201T100000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\n",
    "recurring-infinite": "DTSTART:20261201T100000Z\r\nRRULE:FREQ=MONTHLY\r\n",
    "recurring-duration": "DTSTART;VALUE=DATE:20261201\r\nDURATION:P1D\r\n"
                          "RRULE:FREQ=DAILY;UNTIL=20261210\r\n",
}

JOURNALS = {
    "datetime": "DTSTART:20261201T100000Z\r\n",
    "date": "DTSTART;VALUE=DATE:20261201\r\n",
    "none": "SUMMARY:undated\r\n",
    "recurring": "DTSTART;VALUE=DATE:20261201\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\n",
    "recurring-infinite": "DTSTART:20261201T100000Z\r\nRRULE:FREQ=WEEKLY\r\n",
}


def corpus() -> dict[str, str]:
    cases = {f"event {k}": obj(vevent(v), timezone="Berlin" in v) for k, v in EVENTS.items()}
    for name, (master, overrides) in SERIES_WITH_OVERRIDES.items():
        parts = [vevent(o) for o in overrides] + ([vevent(master)] if master else [])
        cases[f"series {name}"] = obj(*parts, timezone=True)
    cases |= {f"todo {k}": obj(comp("VTODO", v)) for k, v in TODOS.items()}
    cases |= {f"journal {k}": obj(comp("VJOURNAL", v)) for k, v in JOURNALS.items()}
    cases |= {
        "data single": data.single_event("s", "20261201T100000Z", "20261201T110000Z"),
        "data weekly": data.weekly_with_exdate_and_override("w"),
        "data open-ended": data.open_ended_daily("o"),
        "data yearly all-day": data.yearly_all_day("y"),
        "data todo": data.todo("t", "20261201T100000Z"),
    }
    return cases | random_corpus(120)


def random_corpus(size: int) -> dict[str, str]:
    """Seeded combinations of start kind, end kind, rule, exceptions and an override."""
    rng = random.Random(12)
    starts = {"utc": ("DTSTART:2026{md}T{h}0000Z", "Z"), "berlin": (
        "DTSTART;TZID=Europe/Berlin:2026{md}T{h}0000", "Z"),
        "floating": ("DTSTART:2026{md}T{h}0000", ""), "date": ("DTSTART;VALUE=DATE:2026{md}", "")}
    cases = {}
    for i in range(size):
        kind = rng.choice(list(starts))
        md, h = f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}", f"{rng.randint(0, 23):02d}"
        lines = starts[kind][0].format(md=md, h=h) + "\r\n"
        ends = ["", "DURATION:PT90M\r\n", "DURATION:P3D\r\n"]
        if kind == "date":
            ends.append(f"DTEND;VALUE=DATE:2026{md[:2]}{int(md[2:]) + 2:02d}\r\n")
        else:
            ends.append(lines.replace("DTSTART", "DTEND").replace(f"T{h}", f"T{h[0]}{h[1]}")
                        .replace(f"2026{md}", f"2026{md[:2]}{int(md[2:]) + 1:02d}"))
        lines += rng.choice(ends)
        rule = rng.choice(["", "FREQ=DAILY;COUNT=7", "FREQ=WEEKLY;INTERVAL=2;COUNT=5",
                           "FREQ=MONTHLY;BYMONTHDAY=15;COUNT=4", "FREQ=WEEKLY",
                           "FREQ=DAILY;UNTIL=20270301T000000Z" if starts[kind][1] else
                           "FREQ=DAILY;UNTIL=20270301"])
        if rule:
            lines += f"RRULE:{rule}\r\n"
        cases[f"random {i} {kind} {rule or 'single'}"] = obj(vevent(lines), timezone=True)
    return cases


CORPUS = corpus()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_envelope_equals_radicales_time_range(name: str) -> None:
    text = CORPUS[name]
    try:
        expected = radicale_envelope(text)
    except Exception:  # Radicale refuses it: so does calbridge
        with pytest.raises(InvalidObject):
            envelope(parse_object(text))
        return
    assert envelope(parse_object(text)) == expected


@pytest.mark.parametrize("lines", [
    "DTEND:20261201T110000Z\r\n",  # no DTSTART
    "DTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\nDURATION:PT1H\r\n",
    "DTSTART;VALUE=DATE:20261201\r\nDTEND:20261202T100000Z\r\n",
])
def test_what_radicale_cannot_range_is_refused(lines: str) -> None:
    text = obj(vevent(lines))
    with pytest.raises(Exception):  # noqa: B017 (Radicale raises what vobject or datetime raise)
        radicale_envelope(text)
    with pytest.raises(InvalidObject):
        envelope(parse_object(text))


def test_two_masters_are_refused_as_radicale_refuses_them() -> None:
    text = obj(vevent("DTSTART:20261201T100000Z\r\n"), vevent("DTSTART:20261202T100000Z\r\n"))
    with pytest.raises(ValueError):
        radicale_envelope(text)
    with pytest.raises(InvalidObject):
        envelope(parse_object(text))


@pytest.mark.parametrize(("name", "lines", "expected"), [
    ("VFREEBUSY", "DTSTART:20261201T000000Z\r\nDTEND:20261202T000000Z\r\n",
     (1796083200, 1796169600)),
    ("VFREEBUSY", "FREEBUSY:20261201T100000Z/PT1H\r\n", (TIMESTAMP_MIN, TIMESTAMP_MAX)),
    ("VAVAILABILITY", "DTSTART:20261201T000000Z\r\n", (TIMESTAMP_MIN, TIMESTAMP_MAX)),
])
def test_components_radicale_cannot_range_get_a_wide_envelope(
        name: str, lines: str, expected: tuple[int, int]) -> None:
    """Radicale raises for these; the store keeps them with DTSTART..DTEND or all of time."""
    text = obj(comp(name, lines))
    with pytest.raises(AttributeError):
        radicale_envelope(text)
    assert envelope(parse_object(text)) == expected
