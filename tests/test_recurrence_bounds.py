"""The bounded expander is pure: tested here without a server, against recurring-ical-events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import icalendar
import pytest
import recurring_ical_events

from bridge.core.index import TIMESTAMP_MIN, IndexPolicy, build_index, parse_object
from bridge.core.limits import (
    InvalidObject,
    OutsideDateRange,
    RecurrenceTooExpensive,
    TooManyInstances,
    check_dates,
)
from bridge.core.recurrence import (
    bounded_instances,
    check_rules,
    install_step_cap,
    series_of,
)
from bridge.core.times import as_utc
from tests import caldav_data as data
from tests.radicale_reference import radicale_envelope

UTC = dt.UTC


def event(times: str, rule: str, extra: str = "", uid: str = "u") -> str:
    return (f"{data.HEADER}{data.BERLIN}BEGIN:VEVENT\r\nUID:{uid}\r\n"
            f"DTSTAMP:20260101T000000Z\r\n{times}{rule}\r\n{extra}SUMMARY:x\r\n"
            f"END:VEVENT\r\n{data.FOOTER}")


BERLIN_HOUR = ("DTSTART;TZID=Europe/Berlin:20200105T093000\r\n"
               "DTEND;TZID=Europe/Berlin:20200105T103000\r\n")
SERIES = {  # rules of every frequency, started years before the windows below
    "daily-berlin": event(BERLIN_HOUR, "RRULE:FREQ=DAILY"),
    "biweekly-days": event("DTSTART;TZID=Europe/Berlin:20200105T093000\r\nDURATION:PT90M\r\n",
                           "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;INTERVAL=2"),
    "monthly-31st": event("DTSTART;TZID=Europe/Berlin:20200331T020000\r\n"
                          "DTEND;TZID=Europe/Berlin:20200331T030000\r\n", "RRULE:FREQ=MONTHLY"),
    "leap-day": event("DTSTART;VALUE=DATE:20200229\r\nDTEND;VALUE=DATE:20200301\r\n",
                      "RRULE:FREQ=YEARLY"),
    # Dense rules start weeks, not years, before their windows: the reference, stepping them
    # from DTSTART, would take minutes.
    "minutely": event("DTSTART:20261025T000000Z\r\nDTEND:20261025T000030Z\r\n",
                      "RRULE:FREQ=MINUTELY;INTERVAL=7"),
    "secondly-filtered": event("DTSTART:20261025T000005Z\r\nDTEND:20261025T000006Z\r\n",
                               "RRULE:FREQ=SECONDLY;INTERVAL=13;BYHOUR=3,4"),
    "hourly-berlin": event("DTSTART;TZID=Europe/Berlin:20200105T023000\r\n"
                           "DTEND;TZID=Europe/Berlin:20200105T033000\r\n",
                           "RRULE:FREQ=HOURLY;INTERVAL=5"),
    "floating-until": event("DTSTART:20190101T120000\r\nDTEND:20190101T130000\r\n",
                            "RRULE:FREQ=DAILY;INTERVAL=3;UNTIL=20300101T000000"),
    "long-instances": event("DTSTART:20200101T120000Z\r\nDTEND:20200103T130000Z\r\n",
                            "RRULE:FREQ=DAILY;BYMONTHDAY=1,15,-1"),
    "last-friday": event(BERLIN_HOUR, "RRULE:FREQ=MONTHLY;BYDAY=-1FR;BYSETPOS=-1"),
    "all-day-weekly": event("DTSTART;VALUE=DATE:20200105\r\nDTEND;VALUE=DATE:20200106\r\n",
                            "RRULE:FREQ=WEEKLY;WKST=SU;BYDAY=SU,TU;INTERVAL=3"),
    "dst-sundays": event(BERLIN_HOUR, "RRULE:FREQ=YEARLY;BYMONTH=3,10;BYDAY=-1SU"),
    "exdate-rdate-override": event(
        BERLIN_HOUR, "RRULE:FREQ=DAILY",
        "EXDATE;TZID=Europe/Berlin:20261116T093000\r\nRDATE:20261201T080000Z\r\n",
        uid="o").replace(f"END:VEVENT\r\n{data.FOOTER}", (
            "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:o\r\nDTSTAMP:20260101T000000Z\r\n"
            "RECURRENCE-ID;TZID=Europe/Berlin:20261118T093000\r\n"
            "DTSTART;TZID=Europe/Berlin:20261119T150000\r\n"
            "DTEND;TZID=Europe/Berlin:20261119T160000\r\nSUMMARY:moved\r\n"
            f"END:VEVENT\r\n{data.FOOTER}")),
}
WINDOWS = [
    (dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 12, 2, tzinfo=UTC)),
    (dt.datetime(2027, 3, 27, tzinfo=UTC), dt.datetime(2027, 3, 29, tzinfo=UTC)),  # EU DST
    (dt.datetime(2027, 10, 30, tzinfo=UTC), dt.datetime(2027, 11, 1, tzinfo=UTC)),
    (dt.datetime(2028, 2, 28, tzinfo=UTC), dt.datetime(2028, 3, 1, tzinfo=UTC)),
    (dt.datetime(2031, 2, 27, 23, 30, tzinfo=UTC), dt.datetime(2031, 3, 2, tzinfo=UTC)),
]


DENSE_WINDOWS = [(dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 1, 6, tzinfo=UTC)),
                 (dt.datetime(2026, 11, 20, 2, tzinfo=UTC),
                  dt.datetime(2026, 11, 20, 8, tzinfo=UTC))]


def cases() -> Iterator[tuple[str, dt.datetime, dt.datetime]]:
    for name in SERIES:
        for start, end in DENSE_WINDOWS if name in ("minutely", "secondly-filtered") else WINDOWS:
            yield name, start, end


def times(component: icalendar.cal.Component) -> tuple[dt.datetime, dt.datetime | None]:
    end = component.get("DTEND")
    return as_utc(component["DTSTART"].dt), as_utc(end.dt) if end is not None else None


@pytest.mark.parametrize(("name", "start", "end"), list(cases()),
                         ids=lambda v: v.strftime("%Y%m%d") if isinstance(v, dt.datetime) else v)
def test_reanchored_expansion_equals_recurring_ical_events(name: str, start: dt.datetime,
                                                           end: dt.datetime) -> None:
    cal = icalendar.Calendar.from_ical(SERIES[name])
    expected = sorted(times(c) for c in recurring_ical_events.of(cal).between(start, end))
    found = bounded_instances(series_of(cal), start, end, 100_000)
    assert sorted(times(i.component()) for i in found) == expected
    assert [i.start for i in found] == sorted(e[0] for e in expected)


def test_a_window_decades_after_a_secondly_series_began_costs_the_window_only() -> None:
    cal = icalendar.Calendar.from_ical(event("DTSTART:20250101T000000Z\r\n", "RRULE:FREQ=SECONDLY"))
    start = dt.datetime(2990, 6, 1, tzinfo=UTC)
    # Stepping the rule from 2025 would take billions of steps and hit the step cap.
    found = bounded_instances(series_of(cal), start, start + dt.timedelta(minutes=2), 1000)
    assert len(found) == 120 and found[0].start == start


def test_more_instances_than_the_cap_is_refused_after_one_more() -> None:
    cal = icalendar.Calendar.from_ical(event("DTSTART:20250101T000000Z\r\n", "RRULE:FREQ=MINUTELY"))
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(TooManyInstances):
        bounded_instances(series_of(cal), start, start + dt.timedelta(days=1), 1000)


def test_a_dense_series_is_indexed_without_expanding_its_horizon() -> None:
    text = event("DTSTART:20250101T000000Z\r\nDURATION:PT1S\r\n", "RRULE:FREQ=SECONDLY")
    index = build_index(parse_object(text), radicale_envelope(text),
                        dt.datetime(2026, 11, 22, tzinfo=UTC), IndexPolicy(max_per_series=50))
    assert index.occurrences == [] and index.indexed_until == TIMESTAMP_MIN


@pytest.mark.parametrize("rule", [
    "RRULE:FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30",
    "RRULE:FREQ=DAILY;COUNT=5;BYMONTH=4;BYMONTHDAY=31",
    "RRULE:FREQ=WEEKLY;BYMONTH=2;BYMONTHDAY=31",
    "RRULE:FREQ=MONTHLY;BYDAY=6MO",
])
def test_a_rule_that_can_never_match_is_refused(rule: str) -> None:
    with pytest.raises(InvalidObject, match="never yields an instance"):
        check_rules(icalendar.Calendar.from_ical(event(BERLIN_HOUR, rule)), 10_000)


@pytest.mark.parametrize("rule", [
    "RRULE:FREQ=MINUTELY;COUNT=20000",
    "RRULE:FREQ=MINUTELY;UNTIL=20200201T000000Z",
])
def test_a_finite_rule_with_more_instances_than_max_instances_is_refused(rule: str) -> None:
    with pytest.raises(TooManyInstances):
        check_rules(icalendar.Calendar.from_ical(event(BERLIN_HOUR, rule)), 10_000)


@pytest.mark.parametrize("rule", [
    "RRULE:FREQ=SECONDLY",  # endless: no count to check; expansions are capped instead
    "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    "RRULE:FREQ=DAILY;UNTIL=20700101T000000Z;BYDAY=MO",
    "RRULE:FREQ=MINUTELY;COUNT=10000",
])
def test_rules_within_the_limits_pass(rule: str) -> None:
    check_rules(icalendar.Calendar.from_ical(event(BERLIN_HOUR, rule)), 10_000)


def test_a_rule_stepped_past_the_step_cap_is_refused() -> None:
    # Leap days, counted to 5000: dateutil would step day by day towards the year 9999.
    cal = icalendar.Calendar.from_ical(
        event(BERLIN_HOUR, "RRULE:FREQ=DAILY;COUNT=5000;BYMONTH=2;BYMONTHDAY=29"))
    install_step_cap(20_000)
    try:
        with pytest.raises(RecurrenceTooExpensive):
            check_rules(cal, 10_000)
    finally:
        install_step_cap(200_000)


@pytest.mark.parametrize(("line", "precondition"), [
    ("DTSTART:18991231T230000Z", "C:min-date-time"),
    ("DTSTART;VALUE=DATE:30000101", "C:max-date-time"),
    ("RRULE:FREQ=DAILY;UNTIL=30010101T000000Z", "C:max-date-time"),
    ("EXDATE:18500101T000000Z,20260101T000000Z", "C:min-date-time"),
    ("RDATE;VALUE=PERIOD:30010101T000000Z/PT1H", "C:max-date-time"),
])
def test_a_time_outside_the_supported_years_names_its_precondition(line: str,
                                                                   precondition: str) -> None:
    text = event("DTSTART:20260101T000000Z\r\n", line) if not line.startswith("DTSTART") \
        else event("", line)
    with pytest.raises(OutsideDateRange) as raised:
        check_dates(icalendar.Calendar.from_ical(text))
    assert raised.value.precondition == precondition


def test_timezone_rules_from_1601_are_not_checked() -> None:
    text = event(BERLIN_HOUR, "RRULE:FREQ=DAILY;COUNT=2").replace("19701025T030000",
                                                                   "16011028T030000")
    check_dates(icalendar.Calendar.from_ical(text))
