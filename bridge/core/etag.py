"""Entity tags of stored text, the same values Radicale computes (so stored etags stay valid)."""

from __future__ import annotations

from hashlib import sha256


def etag_of(text: str) -> str:
    """The quoted strong etag of an object's text: the SHA-256 of its UTF-8 bytes."""
    return f'"{sha256(text.encode()).hexdigest()}"'
