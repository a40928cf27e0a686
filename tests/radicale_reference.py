"""Radicale's own answers, for tests that hold calbridge's equal to them (tests may import
Radicale; the store and the core may not)."""

from __future__ import annotations

from radicale import item as radicale_item


def radicale_envelope(text: str) -> tuple[int, int]:
    """Radicale's ``Item.time_range`` of one object (vobject's parse)."""
    return radicale_item.Item(collection_path="", text=text).time_range
