"""ETag and If-Match handling for API resources."""

from __future__ import annotations

from flask import request

from bridge.errors import PreconditionError


def if_match() -> str | None:
    """The single entity tag of If-Match, '*' or None when absent."""
    value = request.headers.get("If-Match")
    if value is None:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value


def check_if_match(current_etag: str) -> None:
    expected = if_match()
    if expected is not None and expected != "*" and expected != current_etag:
        raise PreconditionError("The resource changed since it was read (If-Match).")
