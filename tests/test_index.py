"""The index derivation is pure: tested here without a server."""

from __future__ import annotations

import datetime as dt

import pytest

from bridge.core.index import (
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    IndexPolicy,
    InvalidObject,
    build_index,
    parse_object,
)
from bridge.core.times import to_ts as to_timestamp
from tests import caldav_data as data
from tests.radicale_reference import radicale_envelope

NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


def index_of(text: str, policy: IndexPolicy | None = None):  # type: ignore[no-untyped-def]
    return build_index(parse_object(text), radicale_envelope(text), NOW, policy or IndexPolicy())


def ts(*args: int) -> int:
    return to_timestamp(dt.datetime(*args, tzinfo=dt.UTC))


def test_single_event_is_indexed_completely_with_one_occurrence() -> None:
    index = index_of(data.single_event("a", "20261201T100000Z", "20261201T110000Z"))
    assert index.occurrences == [(ts(2026, 12, 1, 10), ts(2026, 12, 1, 11))]
    assert (index.indexed_from, index.indexed_until) == (TIMESTAMP_MIN, TIMESTAMP_MAX)


def test_zero_length_event_is_stored_as_one_second() -> None:
    index = index_of(data.single_event("z", "20261201T100000Z", "20261201T100000Z"))
    assert index.occurrences == [(ts(2026, 12, 1, 10), ts(2026, 12, 1, 10) + 1)]


def test_finite_series_inside_the_horizon_is_complete_everywhere() -> None:
    index = index_of(data.weekly_with_exdate_and_override("w"))
    assert len(index.occurrences) == 9  # 10 minus one EXDATE, the override replaces one
    assert ts(2026, 11, 23, 10) in {start for start, _ in index.occurrences}
    assert (index.indexed_from, index.indexed_until) == (TIMESTAMP_MIN, TIMESTAMP_MAX)


def test_open_ended_series_is_materialized_over_the_rolling_window_only() -> None:
    policy = IndexPolicy(past_days=10, future_days=20, max_per_series=1000)
    index = index_of(data.open_ended_daily("d"), policy)
    assert index.indexed_from == to_timestamp(NOW - dt.timedelta(days=10))
    assert index.indexed_until == to_timestamp(NOW + dt.timedelta(days=20))
    assert index.end_ts == TIMESTAMP_MAX
    assert 29 <= len(index.occurrences) <= 31


def test_series_over_the_cap_is_truncated_and_says_where() -> None:
    policy = IndexPolicy(past_days=10, future_days=20, max_per_series=10)
    index = index_of(data.open_ended_daily("d"), policy)
    assert len(index.occurrences) == 10
    assert index.indexed_until == index.occurrences[-1][0] + 86400


def test_series_far_too_dense_to_materialize_proves_nothing() -> None:
    policy = IndexPolicy(past_days=10, future_days=20, max_per_series=5)
    index = index_of(data.open_ended_daily("d"), policy)
    assert index.occurrences == [] and index.indexed_until == TIMESTAMP_MIN


def test_todo_is_left_to_radicale() -> None:
    index = index_of(data.todo("t", "20261201T100000Z"))
    assert index.component == "VTODO" and index.occurrences == []
    assert index.indexed_until == TIMESTAMP_MIN


@pytest.mark.parametrize("text", [
    "garbage",
    data.HEADER + data.FOOTER,
    data.single_event("a", "20261201T100000Z", "20261201T110000Z").replace(
        "END:VCALENDAR", "BEGIN:VEVENT\r\nUID:b\r\nDTSTART:20261201T100000Z\r\nEND:VEVENT\r\n"
        "END:VCALENDAR"),
    data.single_event("a", "20261201T100000Z", "20261201T110000Z").replace("UID:a\r\n", ""),
])
def test_invalid_objects_are_refused(text: str) -> None:
    with pytest.raises(InvalidObject):
        parse_object(text)


def test_a_series_cut_at_the_windows_edge_rolls_at_half_a_horizon() -> None:
    policy = IndexPolicy(past_days=10, future_days=20, max_per_series=1000)
    index = index_of(data.open_ended_daily("d"), policy)
    assert not index.capped
    assert index.reindex_at == to_timestamp(NOW + dt.timedelta(days=10))


def test_a_capped_series_rolls_once_now_passes_where_its_rows_stop() -> None:
    policy = IndexPolicy(past_days=10, future_days=20, max_per_series=15)
    index = index_of(data.open_ended_daily("d"), policy)
    assert index.capped and index.indexed_until > to_timestamp(NOW)
    assert index.reindex_at == index.indexed_until


def test_a_series_capped_before_now_rolls_at_half_a_horizon_not_at_once() -> None:
    policy = IndexPolicy(past_days=10, future_days=20, max_per_series=8)
    index = index_of(data.open_ended_daily("d"), policy)
    assert index.capped and index.indexed_until < to_timestamp(NOW)
    assert index.reindex_at == to_timestamp(NOW + dt.timedelta(days=10))


@pytest.mark.parametrize("text", [
    data.single_event("a", "20261201T100000Z", "20261201T110000Z"),
    data.weekly_with_exdate_and_override("w"),
    data.todo("t", "20261201T100000Z"),
])
def test_complete_or_unindexed_objects_never_roll(text: str) -> None:
    assert index_of(text).reindex_at == TIMESTAMP_MAX


def test_index_time_bounds_and_etags_equal_radicales() -> None:
    from radicale.item import filter as radicale_filter
    from radicale.item import get_etag

    from bridge.core.etag import etag_of

    assert (TIMESTAMP_MIN, TIMESTAMP_MAX) == (
        radicale_filter.TIMESTAMP_MIN, radicale_filter.TIMESTAMP_MAX)
    for text in ("", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "é ünïcode\n"):
        assert etag_of(text) == get_etag(text)
