"""GET of a whole calendar: an entity tag from the collection revision (a repeated GET of an
unchanged calendar gets 304 without reading an object), the body joined from the stored text,
and finished bodies kept by revision (so never stale) and compressed once."""

from __future__ import annotations

import zlib
from http import client

from radicale import pathutils, types

from bridge.core.cache import BoundedLRU
from radicale_plugin.internals import (
    Access,
    GetPart,
    propose_filename,
    requests_freebusy_view,
    writable,
)
from radicale_plugin.storage import Collection

MAX_FILENAME_CHARS = 100
GZIP_LEVEL = 1  # a third of level 6's CPU time for ~28 % more bytes; bodies are cached anyway


class CollectionBodies:
    """Finished GET bodies by (collection id, revision, coding), within a memory budget."""

    def __init__(self, budget_bytes: int = 96 * 1024 * 1024) -> None:
        # One calendar must not push every other one out: at most a quarter of the budget.
        self._entries: BoundedLRU[tuple[int, int, bool], bytes] = BoundedLRU(
            budget_bytes, len, budget_bytes // 4)

    def get(self, key: tuple[int, int, bool]) -> bytes | None:
        return self._entries.get(key)

    def put(self, key: tuple[int, int, bool], body: bytes) -> None:
        self._entries.put(key, body, keep_first=True)


collection_bodies = CollectionBodies()


def _gzip(body: bytes) -> bytes:
    compressor = zlib.compressobj(GZIP_LEVEL, wbits=16 + zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


def _accepts_gzip(environ: types.WSGIEnviron) -> bool:
    return "gzip" in [e.strip().split(";")[0] for e in
                      environ.get("HTTP_ACCEPT_ENCODING", "").split(",")]


def short_filename(name: str, limit: int = MAX_FILENAME_CHARS) -> str:
    """The display name as a file name, cut so that a long name (up to the property limit)
    cannot make a header line that clients refuse (http.client stops at 64 KiB)."""
    if len(name) <= limit:
        return name
    stem, dot, suffix = name.rpartition(".")
    return (stem[:limit - len(suffix) - 1] + dot + suffix) if dot and len(suffix) < 8 \
        else name[:limit]


class ApplicationPartCollectionGet(GetPart):
    def do_GET(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
               user_groups: set, request_info: dict) -> types.WSGIResponse:
        response = None
        sane = pathutils.strip_path(path)
        if sane.count("/") == 1 and not sane.startswith(".") and not self.sharing_enabled \
                and not requests_freebusy_view(environ):
            response = self._calendar_get(environ, path, user, user_groups)
        if response is not None:
            return response
        return super().do_GET(environ, base_prefix, path, user, user_groups, request_info)

    def _calendar_get(self, environ: types.WSGIEnviron, path: str, user: str,
                      user_groups: set) -> types.WSGIResponse | None:
        """None: not a calendar this path answers; Radicale's own GET does."""
        access = Access(self.rights, user, user_groups, path)
        if not access.check("r"):
            return None
        gzip = _accepts_gzip(environ)
        with self.storage.acquire_lock("r", user):
            collection = next(iter(self.storage.discover(path)), None)
            if not isinstance(collection, Collection) or collection.tag != "VCALENDAR" or \
                    not access.check("r", collection):
                return None
            record = collection.record
            headers = {"Content-Type": "text/calendar; charset=utf-8",
                       "Last-Modified": collection.last_modified, "ETag": record.etag,
                       "Content-Disposition": self.attachment_disposition(
                           short_filename(propose_filename(collection)))}
            if record.etag in [t.strip() for t in
                               environ.get("HTTP_IF_NONE_MATCH", "").split(",")]:
                return client.NOT_MODIFIED, headers, None, None
            key = (record.id, record.revision, gzip)
            body = collection_bodies.get(key)
            if body is None:
                body = collection.serialize().encode()
                if gzip:
                    body = _gzip(body)
                collection_bodies.put(key, body)
        if gzip:
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
            # Already compressed: Radicale compresses what it is handed after do_GET returns.
            writable(environ)["HTTP_ACCEPT_ENCODING"] = ""
        return client.OK, headers, body, None


