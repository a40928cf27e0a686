"""Subscription feeds (`GET /ics/<token>.ics`): windows, validators, bodies, the body cache.

- A *full* feed is every stored object, joined as text (bridge.core.bundle) and streamed
  from one read snapshot: the VTIMEZONEs first (a cheap first pass over the texts that hold
  one), then the objects in batches, without VALARMs, ATTENDEEs and ORGANIZERs unless the
  feed was made with include_private.
- A *free/busy* feed is one opaque VEVENT titled "Busy" per merged busy period of the window,
  expanded by recurring-ical-events over index candidates: nothing else of an event leaves.
- Validators come from the collection row alone (revision, updated_at), so a conditional GET
  of an unchanged calendar is answered 304 without reading one object.
- Finished bodies are kept in memory by entity tag and content coding; the tag names the
  collection revision, so an entry can never be stale.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from icalendar.parser import foldline

from bridge.core.availability import merge
from bridge.core.bundle import calendar_header, stream_calendar, without_private_data
from bridge.core.cache import BoundedLRU
from bridge.core.expand import instances_between
from bridge.core.times import from_ts, http_date, ical_utc, time_value
from bridge.mapping.calendars import fields_from_props
from bridge.occurrences import Occurrence
from bridge.store.feeds import FeedToken
from bridge.store.store import CalendarStore, CollectionRecord

FEED_FORMAT = "2"  # part of every entity tag: bump it when the body's shape changes
REFRESH_INTERVAL = "PT1H"
FREEBUSY_PAST_DAYS = 30
FREEBUSY_FUTURE_DAYS = 180
CHUNK_CHARS = 64 * 1024
GZIP_LEVEL = 5  # within 5 % of level 6's size at half its CPU time
CONTENT_TYPE = "text/calendar; charset=utf-8"
_DAY = dt.timedelta(days=1)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedLimits:
    """The ``input.max_feed_*`` settings: how far a window reaches, and how many instances
    one free/busy body expands (the URL is public: its work must be bounded)."""

    max_past_days: int = 366
    max_future_days: int = 732
    max_instances: int = 50_000


# -- the window of one request -------------------------------------------------------------


@dataclass(frozen=True)
class FeedWindow:
    """[start, end) in UTC; None on a side means unbounded. Windows are anchored at 00:00 UTC
    of the current day, so a windowed body changes once a day, not with every second."""

    start: dt.datetime | None
    end: dt.datetime | None
    anchor: dt.datetime

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None

    @property
    def key(self) -> str:
        def day(value: dt.datetime | None) -> str:
            return value.strftime("%Y%m%d") if value is not None else "*"

        return f"{day(self.start)}-{day(self.end)}"

    def timestamps(self) -> tuple[int, int] | None:
        """(start, end) for the store's envelope test, or None when unbounded."""
        if not self.bounded:
            return None
        start = int(self.start.timestamp()) if self.start is not None else -(2 ** 62)
        end = int(self.end.timestamp()) if self.end is not None else 2 ** 62
        return start, end


def _narrowest(own: int | None, asked: int | None) -> int | None:
    if own is None:
        return asked
    return own if asked is None else min(own, asked)


def feed_window(feed: FeedToken, past_days: int | None, future_days: int | None,
                now: dt.datetime, limits: FeedLimits = FeedLimits()) -> FeedWindow:
    """The feed's own window narrowed (never widened) by the request's ``pastDays`` and
    ``futureDays``. A free/busy feed is always windowed (default 30 days back, 180 ahead).
    A window stored before the limits existed (or above lowered ones) is cut to them."""
    own_past, own_future = feed.window_past_days, feed.window_future_days
    if feed.kind == "freebusy":
        own_past = FREEBUSY_PAST_DAYS if own_past is None else own_past
        own_future = FREEBUSY_FUTURE_DAYS if own_future is None else own_future
    past = _narrowest(own_past, past_days)
    future = _narrowest(own_future, future_days)
    past = None if past is None else min(past, limits.max_past_days)
    future = None if future is None else min(future, limits.max_future_days)
    anchor = dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time(), dt.UTC)
    return FeedWindow(
        start=None if past is None else anchor - past * _DAY,
        end=None if future is None else anchor + (future + 1) * _DAY,  # through that day
        anchor=anchor)


# -- validators ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Validators:
    etag: str            # the identity representation's strong entity tag
    last_modified: int   # POSIX seconds

    def etag_for(self, gzip: bool) -> str:
        """Each content coding is its own representation, with its own strong tag."""
        return self.etag[:-1] + '-gz"' if gzip else self.etag


def feed_validators(collection: CollectionRecord, kind: str, window: FeedWindow,
                    now: int, include_private: bool = False) -> Validators:
    """From the collection row only: its revision changes with every write and every property
    change; the window's day is part of the tag because the body moves with it, and so is
    include_private (the tag is the body cache's key: two feeds of one calendar that differ
    in it must never share a body)."""
    basis = (f"{FEED_FORMAT}:{collection.id}:{collection.revision}:{kind}:{window.key}:"
             f"{'private' if include_private else 'public'}")
    etag = '"' + hashlib.sha256(basis.encode()).hexdigest()[:32] + '"'
    changed = collection.updated_at
    if window.bounded:
        changed = max(changed, int(window.anchor.timestamp()))
    # Never claim the current second: a second write within it would go unnoticed by a
    # client revalidating with If-Modified-Since (one-second resolution).
    return Validators(etag, min(changed, now - 1))


_ENTITY_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*')


def _opaque_tags(header: str) -> set[str] | None:
    """The opaque parts of If-None-Match, without the gzip suffix; None for '*'."""
    if header.strip() == "*":
        return None
    tags = set()
    for part in header.split(","):
        match = _ENTITY_TAG.fullmatch(part)
        if match:
            tags.add(match.group(2).removesuffix("-gz"))
    return tags


def not_modified(validators: Validators, if_none_match: str | None,
                 if_modified_since: dt.datetime | None) -> bool:
    """RFC 9110 13.2.2: If-None-Match (weak comparison) decides when present; otherwise
    If-Modified-Since."""
    if if_none_match is not None:
        tags = _opaque_tags(if_none_match)
        return tags is None or validators.etag.strip('"') in tags
    if if_modified_since is not None:
        return validators.last_modified <= int(if_modified_since.timestamp())
    return False


# -- bodies --------------------------------------------------------------------------------


def header_lines(collection: CollectionRecord, kind: str) -> tuple[str, str | None, list[str]]:
    """(calendar name, description, extra VCALENDAR lines) of a feed."""
    fields = fields_from_props(collection.props, collection.path.rsplit("/", 1)[-1])
    extra = []
    if fields.timezone:
        extra.append(foldline("X-WR-TIMEZONE:" + fields.timezone))
    extra += [f"REFRESH-INTERVAL;VALUE=DURATION:{REFRESH_INTERVAL}",
              f"X-PUBLISHED-TTL:{REFRESH_INTERVAL}"]
    if kind == "freebusy":  # the name is what subscribers list; the description stays home
        return f"{fields.name} (busy)", None, extra
    return fields.name, fields.description, extra


class FullFeedBody:
    """The full feed as text pieces, read lazily from one snapshot when iterated."""

    def __init__(self, store: CalendarStore, collection: CollectionRecord,
                 window: FeedWindow, include_private: bool = False) -> None:
        self.store = store
        self.collection = collection
        self.window = window
        self.include_private = include_private
        # False when the snapshot saw another revision than the one the entity tag names:
        # the body is then still served (it is newer), but not cached under that tag.
        self.consistent = True

    def __iter__(self) -> Iterator[str]:
        name, description, extra = header_lines(self.collection, "full")
        bounds = self.window.timestamps()
        with self.store.snapshot() as snapshot:
            current = snapshot.collection(self.collection.id)
            self.consistent = current is not None and \
                current.revision == self.collection.revision
            zone_texts = (text for batch in snapshot.object_texts(
                self.collection.id, bounds, containing="BEGIN:VTIMEZONE") for text in batch)
            texts = (text for batch in snapshot.object_texts(self.collection.id, bounds)
                     for text in batch)
            if not self.include_private:
                texts = (without_private_data(text) for text in texts)
            yield from stream_calendar(zone_texts, texts, name, description, extra)


def busy_periods(occurrences: Iterable[Occurrence]
                 ) -> tuple[list[tuple[dt.datetime, dt.datetime]],
                            list[tuple[dt.datetime, dt.datetime]]]:
    """(timed, all-day) busy periods, each list merged where periods overlap or touch.
    Transparent, cancelled and zero-length instances block no time."""
    timed: list[tuple[dt.datetime, dt.datetime]] = []
    all_day: list[tuple[dt.datetime, dt.datetime]] = []
    for occurrence in occurrences:
        if not occurrence.busy or occurrence.end <= occurrence.start:
            continue
        is_all_day = not isinstance(time_value(occurrence.component, "DTSTART"), dt.datetime)
        (all_day if is_all_day else timed).append((occurrence.start, occurrence.end))
    return merge(timed), merge(all_day)


def busy_event(start: dt.datetime, end: dt.datetime, all_day: bool, stamp: str) -> str:
    """One opaque "Busy" VEVENT; its UID follows from its times, so it is stable across
    refreshes and says nothing about the events behind it."""
    uid = hashlib.sha256(f"busy:{start.isoformat()}:{end.isoformat()}".encode()).hexdigest()
    if all_day:
        times = (f"DTSTART;VALUE=DATE:{start:%Y%m%d}\r\n"
                 f"DTEND;VALUE=DATE:{end:%Y%m%d}\r\n")
    else:
        times = f"DTSTART:{ical_utc(start)}\r\nDTEND:{ical_utc(end)}\r\n"
    return (f"BEGIN:VEVENT\r\nUID:{uid[:32]}@busy.calbridge\r\nDTSTAMP:{stamp}\r\n{times}"
            "SUMMARY:Busy\r\nTRANSP:OPAQUE\r\nX-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\n"
            "END:VEVENT\r\n")


def bounded_occurrences(store: CalendarStore, collection_id: int, start: dt.datetime,
                        end: dt.datetime, max_instances: int
                        ) -> tuple[list[Occurrence], list[tuple[dt.datetime, dt.datetime]]]:
    """The instances overlapping [start, end), object by object, until ``max_instances`` are
    expanded; then the envelope (clipped to the window) of each object left stands for it, as
    one busy span: more busy time than the truth, never less."""
    first, last = int(start.timestamp()), int(end.timestamp())
    found: list[Occurrence] = []
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for match in store.objects_in_window(collection_id, first, last + 1):
        record = match.record
        if len(found) >= max_instances:
            if max(first, record.start_ts) < min(last, record.end_ts):
                spans.append((from_ts(max(first, record.start_ts)),
                              from_ts(min(last, record.end_ts))))
            continue
        found += [Occurrence(record, c)
                  for c in instances_between(record.text, record.etag, start, end)]
    if spans:
        logger.warning("free/busy feed of collection %d: over %d instances; %d objects shown "
                       "busy across their span", collection_id, max_instances, len(spans))
    return found, spans


def freebusy_body(store: CalendarStore, collection: CollectionRecord,
                  window: FeedWindow, max_instances: int = FeedLimits.max_instances) -> str:
    assert window.start is not None and window.end is not None
    name, description, extra = header_lines(collection, "freebusy")
    found, spans = bounded_occurrences(store, collection.id, window.start, window.end,
                                       max_instances)
    timed, all_day = busy_periods(found)
    timed = merge([*timed, *spans])
    stamp = ical_utc(from_ts(collection.updated_at))
    events = [busy_event(s, e, True, stamp) for s, e in all_day]
    events += [busy_event(s, e, False, stamp) for s, e in timed]
    return calendar_header(name, description, extra) + "".join(events) + "END:VCALENDAR\r\n"


def encoded_chunks(pieces: Iterable[str], gzip: bool) -> Iterator[bytes]:
    """UTF-8 (gzip-compressed when asked) in chunks of about CHUNK_CHARS characters."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS) \
        if gzip else None
    buffered: list[str] = []
    size = 0
    for piece in pieces:
        buffered.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            data = "".join(buffered).encode()
            buffered, size = [], 0
            if compressor is not None:
                data = compressor.compress(data)
            if data:
                yield data
    data = "".join(buffered).encode()
    if compressor is not None:
        data = compressor.compress(data) + compressor.flush()
    if data:
        yield data


# -- the body cache ------------------------------------------------------------------------


class FeedBodyCache:
    """Finished bodies by (entity tag, coding), least recently used out first, bounded in
    bytes. The entity tag names the collection revision: an entry is never stale, and other
    processes on the same database never need to hear of it."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024,
                 max_entry_bytes: int = 24 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._entries: BoundedLRU[str, bytes] = BoundedLRU(max_bytes, len, max_entry_bytes)

    def get(self, key: str) -> bytes | None:
        return self._entries.get(key)

    def put(self, key: str, body: bytes) -> None:
        self._entries.put(key, body)

    def get_or_build(self, key: str, build: Callable[[], bytes]) -> bytes:
        """The cached body, or ``build()``'s; concurrent requests for one key build it once
        (every subscriber polls right after a change)."""
        return self._entries.get_or_build(key, build)

    def recording(self, key: str, chunks: Iterable[bytes],
                  keep: Callable[[], bool] = lambda: True) -> Iterator[bytes]:
        """Pass ``chunks`` through; once all went out (and ``keep()`` holds), remember them."""
        kept: list[bytes] | None = []
        size = 0
        for chunk in chunks:
            if kept is not None:
                size += len(chunk)
                if size > self.max_entry_bytes:
                    kept = None
                else:
                    kept.append(chunk)
            yield chunk
        if kept is not None and keep():
            self.put(key, b"".join(kept))


feed_bodies = FeedBodyCache()


# -- one request ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedRequest:
    past_days: int | None
    future_days: int | None
    if_none_match: str | None
    if_modified_since: dt.datetime | None
    gzip: bool
    now: dt.datetime


@dataclass(frozen=True)
class FeedReply:
    status: int                       # 200 or 304
    headers: dict[str, str]
    body: bytes | Iterable[bytes]     # a generator for a streamed full feed


def answer_feed(store: CalendarStore, feed: FeedToken, collection: CollectionRecord,
                asked: FeedRequest, cache: FeedBodyCache = feed_bodies,
                limits: FeedLimits = FeedLimits()) -> FeedReply:
    window = feed_window(feed, asked.past_days, asked.future_days, asked.now, limits)
    validators = feed_validators(collection, feed.kind, window, int(asked.now.timestamp()),
                                 feed.include_private)
    etag = validators.etag_for(asked.gzip)
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(validators.last_modified),
        # Revalidate every time: cheap (304 from one row), and a revoked URL stops at once.
        "Cache-Control": "private, no-cache",
        "Vary": "Accept-Encoding",
        "X-Robots-Tag": "noindex, nofollow",
    }
    if not_modified(validators, asked.if_none_match, asked.if_modified_since):
        return FeedReply(304, headers, b"")
    headers["Content-Type"] = CONTENT_TYPE
    if asked.gzip:
        headers["Content-Encoding"] = "gzip"
    cached = cache.get(etag)
    if cached is not None:
        headers["Content-Length"] = str(len(cached))
        return FeedReply(200, headers, cached)
    if feed.kind == "freebusy":
        body = cache.get_or_build(etag, lambda: b"".join(encoded_chunks(
            [freebusy_body(store, collection, window, limits.max_instances)], asked.gzip)))
        headers["Content-Length"] = str(len(body))
        return FeedReply(200, headers, body)
    full = FullFeedBody(store, collection, window, feed.include_private)
    return FeedReply(200, headers, cache.recording(etag, encoded_chunks(full, asked.gzip),
                                                   keep=lambda: full.consistent))
