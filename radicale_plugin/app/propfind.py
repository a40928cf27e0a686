"""PROPFIND depth 1 on a calendar, for the properties sync clients list: answered from the
index columns (href, etag, last-modified, component) without loading or parsing any object.

The collection's own response is Radicale's (its depth-0 answer, parsed); the members follow
it in one document written by ``MultistatusWriter``.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as DefusedET
from radicale import types

from radicale_plugin.app.multistatus import LISTING_PROPS, MultistatusWriter, Row
from radicale_plugin.internals import NOT_ALLOWED, Access, PropfindPart, read_raw_body, rewind_body
from radicale_plugin.storage import Collection

_D = "{DAV:}"


def listing_props(body: bytes) -> list[str] | None:
    """The requested item properties, if this fast path can answer all of them."""
    try:
        root = DefusedET.fromstring(body) if body else None
    except ET.ParseError:
        return None
    if root is None or root.tag != f"{_D}propfind":
        return None
    prop = root.find(f"{_D}prop")
    if prop is None or len(root) != 1:
        return None  # allprop, propname, or something else
    tags = [child.tag for child in prop]
    return tags if tags and set(tags) <= LISTING_PROPS else None


def parsed_multistatus(status: int, answer: object) -> ET.Element | None:
    """Radicale's answer as a document, if it is a multistatus this path can extend."""
    if status != 207 or not isinstance(answer, bytes):
        return None
    try:
        root = DefusedET.fromstring(answer)
    except ET.ParseError:
        return None
    return root if root.tag == f"{_D}multistatus" else None


class ApplicationPartListingPropfind(PropfindPart):
    def do_PROPFIND(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                    user_groups: set, request_info: dict) -> types.WSGIResponse:
        if environ.get("HTTP_DEPTH", "0") != "1" or self.sharing_enabled:
            return super().do_PROPFIND(environ, base_prefix, path, user, user_groups,
                                       request_info)
        body = read_raw_body(self, environ)
        props = listing_props(body)
        listing = self._listing(path, user) if props is not None else None
        if props is not None and listing is not None:
            collection_path, rows = listing
            if "r" not in Access(self.rights, user, user_groups, path).permissions:
                return NOT_ALLOWED
            # The collection's own response is Radicale's (depth 0); its members follow.
            own = dict(environ, HTTP_DEPTH="0", CONTENT_LENGTH=str(len(body)),
                       **{"wsgi.input": io.BytesIO(body)})
            status, headers, answer, logged = super().do_PROPFIND(
                own, base_prefix, path, user, user_groups, request_info)
            root = parsed_multistatus(status, answer)
            if root is not None:
                writer = MultistatusWriter(self.encoding)
                for response in root:
                    writer.element(response)
                # Without xmlutils.make_href's per-row sanitize_path: stored hrefs passed it
                # when they were written.
                writer.listing_responses(props, f"{base_prefix}/{collection_path}/", rows,
                                         self.encoding)
                return status, headers, writer.to_bytes(), logged
        rewind_body(environ, body)
        return super().do_PROPFIND(environ, base_prefix, path, user, user_groups, request_info)

    def _listing(self, path: str, user: str) -> tuple[str, list[Row]] | None:
        """The calendar's path and its members' index rows; None if not a calendar of ours."""
        with self.storage.acquire_lock("r", user):
            collection = next(iter(self.storage.discover(path)), None)
            if not isinstance(collection, Collection) or collection.tag != "VCALENDAR":
                return None
            return collection.path, collection.store.object_summaries(collection.record.id)
