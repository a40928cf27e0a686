"""The core's one cache (bridge.core.cache) and the component readers of bridge.core.times."""

from __future__ import annotations

import datetime as dt
import threading
import time

import icalendar
import pytest

from bridge.core.cache import BoundedLRU
from bridge.core.times import component_end, instance_key, time_value, to_ts

UTC = dt.UTC


def test_count_bound_drops_the_least_recently_used() -> None:
    cache: BoundedLRU[str, int] = BoundedLRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert len(cache) == 2 and cache.size == 2


def test_size_bound_counts_what_the_values_weigh() -> None:
    cache: BoundedLRU[str, bytes] = BoundedLRU(10, len, max_item=6)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    cache.put("too big", b"1234567")  # heavier than max_item: not kept, nothing pushed out
    assert cache.get("too big") is None and cache.size == 8
    cache.put("c", b"123456")
    assert cache.get("a") is None and cache.get("b") == b"1234" and cache.size == 10


def test_replacing_and_keeping_the_first_value() -> None:
    cache: BoundedLRU[str, bytes] = BoundedLRU(100, len)
    cache.put("k", b"old")
    cache.put("k", b"first kept", keep_first=True)
    assert cache.get("k") == b"old"
    cache.put("k", b"newer")
    assert cache.get("k") == b"newer" and cache.size == 5


def test_concurrent_callers_build_a_key_once() -> None:
    cache: BoundedLRU[str, str] = BoundedLRU(4)
    builds: list[int] = []

    def build() -> str:
        builds.append(1)
        time.sleep(0.05)
        return "value"

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_build("k", build)))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["value"] * 5 and len(builds) == 1


def test_a_failed_build_is_not_remembered() -> None:
    cache: BoundedLRU[str, str] = BoundedLRU(4)

    def fail() -> str:
        raise ValueError("no")

    with pytest.raises(ValueError):
        cache.get_or_build("k", fail)
    assert cache.get_or_build("k", lambda: "built") == "built"


def _event(lines: str) -> icalendar.cal.Component:
    text = f"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n{lines}END:VEVENT\r\nEND:VCALENDAR\r\n"
    return icalendar.Calendar.from_ical(text).walk("VEVENT")[0]


@pytest.mark.parametrize(("lines", "end"), [
    ("DTSTART:20260101T090000Z\r\nDTEND:20260101T100000Z\r\n",
     dt.datetime(2026, 1, 1, 10, tzinfo=UTC)),
    ("DTSTART:20260101T090000Z\r\nDURATION:PT30M\r\n", dt.datetime(2026, 1, 1, 9, 30, tzinfo=UTC)),
    ("DTSTART;VALUE=DATE:20260101\r\n", dt.date(2026, 1, 2)),
    ("DTSTART:20260101T090000\r\n", dt.datetime(2026, 1, 1, 9)),
])
def test_component_end_follows_rfc_4791(lines: str, end: dt.date) -> None:
    assert component_end(_event(lines)) == end


def test_time_values_and_keys() -> None:
    event = _event("DTSTART;TZID=Europe/Berlin:20260101T100000\r\n")
    start = time_value(event, "DTSTART")
    assert instance_key(start) == "20260101T090000Z"
    assert instance_key(dt.date(2026, 2, 10)) == "20260210"
    with pytest.raises(KeyError):
        time_value(event, "DTEND")


def test_to_ts_reaches_the_ends_of_the_calendar() -> None:
    east = dt.timezone(dt.timedelta(hours=1))
    west = dt.timezone(dt.timedelta(hours=-1))
    assert to_ts(dt.datetime(1, 1, 1, 0, 30, tzinfo=east)) == -62135598600
    assert to_ts(dt.datetime(9999, 12, 31, 23, 30, tzinfo=west)) == 253402302600
    assert to_ts(dt.date(1970, 1, 2)) == to_ts(dt.datetime(1970, 1, 2)) == 86400


def test_the_parse_caches_hold_bytes_not_entries() -> None:
    """A few large objects weigh as much as many small ones: the bound is what the parses
    weigh (13 bytes per byte of text), and an object over an eighth of it is not kept."""
    from bridge.core import expand

    def event(uid: str, description_bytes: int) -> str:
        return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
                f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261210T100000Z\r\n"
                f"DESCRIPTION:{'x' * description_bytes}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")

    budget = 2_000_000
    cache = expand.ParsedObjects(budget)
    small = [event(f"s{n}", 100) for n in range(400)]
    for text in small:
        cache.get(text)
    assert cache.size == sum(expand.weight(t) for t in small) < budget
    for n in range(10):
        cache.get(event(f"big{n}", 15_000))  # ~200 kB each as a parse
    assert 0 < cache.size <= budget
    huge = event("huge", budget // 8)  # heavier than an eighth: parsed, answered, not kept
    before = cache.size
    assert str(cache.get(huge).walk("VEVENT")[0]["UID"]) == "huge"
    assert cache.size == before
    expand.configure(budget)
    text, count = expand.expanded_calendar_text(small[0], dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
                                                dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    assert count == 1 and "UID:s0" in text
    assert 0 < expand._templates_cache.size <= budget
    expand.configure(expand.DEFAULT_CACHE_BYTES)
