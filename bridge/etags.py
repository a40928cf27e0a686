"""ETag and If-Match handling for API resources (the comparison is the services' own)."""

from __future__ import annotations

from flask import request

from bridge.service.calendars import check_etag


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
    """412 (PRECONDITION_FAILED) unless the request's If-Match names ``current_etag``."""
    check_etag(if_match(), current_etag)
