"""The DAV compliance classes calbridge advertises (RFC 4918 10.1).

Radicale writes its own constant (`httputils.DAV_HEADERS`) into OPTIONS, PROPFIND and PROPPATCH
answers; calbridge adds one class per feature it implements on top (RFC 6638 scheduling,
WebDAV-Push, sharing), and the application rewrites the header of every answer that carries one,
so all methods advertise the same set.
"""

from __future__ import annotations

from radicale_plugin.internals import RADICALE_DAV_CLASSES

# One entry per line: each feature adds its own class here.
EXTRA_DAV_CLASSES: tuple[str, ...] = (
    "webdav-push",  # app/push.py
    "calendar-auto-schedule",  # RFC 6638: the storage schedules every PUT and DELETE
    "calendarserver-sharing",  # app/invite.py
)


def dav_header() -> str:
    classes = [c.strip() for c in RADICALE_DAV_CLASSES.split(",")]
    classes += [c for c in EXTRA_DAV_CLASSES if c not in classes]
    return ", ".join(classes)


def with_dav_header(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The answer's headers with calbridge's DAV classes wherever Radicale wrote its own."""
    return [(name, dav_header() if name.lower() == "dav" else value) for name, value in headers]
