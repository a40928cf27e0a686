"""The one in-process cache: a thread-safe, bounded, least-recently-used map over cachetools.

Decisions:
- cachetools' ``LRUCache`` keeps the recency and the size; it is not thread-safe, so every
  access to it holds the cache's one lock. Values are built outside that lock (a slow build
  never blocks readers of other keys); ``get_or_build`` builds a key once at a time (every
  feed subscriber polls right after a change).
- The bound counts entries, or, given ``sizeof``, what the values weigh (bytes of a body).
  ``max_item`` refuses a value heavier than that, so one entry cannot push every other out.
- A hit refreshes the entry's recency; ``put`` of a present key replaces its value unless
  ``keep_first`` (then the entry, its value and its recency stay as they were).
- Entries are never stale by construction (keys carry a content hash or a revision): there is
  no expiry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import LRUCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedLRU(Generic[K, V]):
    """Values by key, least recently used out first, within ``max_size`` entries (or units
    of ``sizeof``)."""

    def __init__(self, max_size: int, sizeof: Callable[[V], int] | None = None,
                 max_item: int | None = None) -> None:
        self.max_size = max_size
        self.max_item = max_size if max_item is None else min(max_item, max_size)
        self._sizeof = sizeof or (lambda _value: 1)
        self._entries: LRUCache[K, V] = LRUCache(max_size, getsizeof=self._sizeof)
        self._lock = threading.Lock()
        self._building: dict[K, threading.Lock] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def size(self) -> int:
        """What the entries weigh together (their number without ``sizeof``)."""
        with self._lock:
            return int(self._entries.currsize)

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: K, value: V, keep_first: bool = False) -> None:
        """Remember ``value`` (a value heavier than ``max_item`` is not kept)."""
        if self._sizeof(value) > self.max_item:
            return
        with self._lock:
            if keep_first and key in self._entries:
                return
            self._entries[key] = value

    def get_or_build(self, key: K, build: Callable[[], V]) -> V:
        """The cached value, or ``build()``'s (then remembered); concurrent callers for one
        key build it once."""
        value = self.get(key)
        if value is not None:
            return value
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        try:
            with building:
                value = self.get(key)
                if value is None:
                    value = build()
                    self.put(key, value)
        finally:
            with self._lock:
                self._building.pop(key, None)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
