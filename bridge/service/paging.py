"""Page tokens of event lists: where a walk over the instances of a window stands.

Decisions:
- A token is URL-safe base64 of a short JSON array (version 1): the walk's position, how many
  instances came before, the slice length that filled the last page, and a print of the query
  it belongs to; a token of another query (window, calendars or filters) is refused.
- Tokens carry no secret: a forged one can only skip or repeat what the token may read anyway.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from bridge.core.times import from_ts, iso_z
from bridge.occurrences import Position
from bridge.service.errors import InvalidInput


@dataclass(frozen=True)
class Cursor:
    """What a pageToken carries: where the walk stands, how many instances came before, the
    slice length that filled the last page, and which query it belongs to."""

    position: Position
    seen: int
    span: int
    query: str


def query_print(start: dt.datetime, end: dt.datetime, calendar_ids: list[int], q: str | None,
                include_cancelled: bool) -> str:
    text = json.dumps([iso_z(start), iso_z(end), calendar_ids, q or "", include_cancelled])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def page_token(cursor: Cursor) -> str:
    data = json.dumps([1, cursor.position.start, cursor.position.event_id, cursor.position.key,
                       cursor.seen, cursor.span, cursor.query], separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def read_page_token(token: str, printed_query: str) -> Cursor:
    """The cursor of ``token``, refused unless this API issued it for the same query."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        version, start, event_id, key, seen, span, printed = data
        counts_ok = all(isinstance(v, int) and 0 <= v < 2**40 for v in (seen, span))
        if version != 1 or not counts_ok or not isinstance(start, int) or \
                not all(isinstance(v, str) for v in (event_id, key, printed)):
            raise ValueError("unexpected values")
        cursor = Cursor(Position(start, event_id, key), seen, span, printed)
        from_ts(start)  # a time the window arithmetic can hold
    except (ValueError, TypeError, OverflowError, OSError, binascii.Error) as exc:
        raise InvalidInput.of_field("pageToken", "pageToken is not a token this API issued."
                                    ) from exc
    if cursor.query != printed_query:
        raise InvalidInput.of_field(
            "pageToken", "pageToken belongs to another query (window, calendars or filters).")
    return cursor
