"""PROPFIND depth 1 on a calendar, for the properties sync clients list: answered from the
index columns (href, etag, last-modified, component) without loading or parsing any object."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from urllib.parse import quote
from xml.sax.saxutils import escape

import defusedxml.ElementTree as DefusedET
from radicale import httputils, types
from radicale.app.base import Access, ApplicationBase

from radicale_plugin.storage import Collection, http_date

_D = "{DAV:}"
LISTING_PROPS = frozenset({f"{_D}getetag", f"{_D}getlastmodified", f"{_D}getcontenttype",
                           f"{_D}resourcetype"})
_CLOSING = b"</multistatus>"


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


def item_response(href: str, etag: str, last_modified: int, component: str, props: list[str],
                  encoding: str) -> str:
    values = []
    for tag in props:
        if tag == f"{_D}getetag":
            values.append(f"<getetag>{escape(etag)}</getetag>")
        elif tag == f"{_D}getlastmodified":
            values.append(f"<getlastmodified>{http_date(last_modified)}</getlastmodified>")
        elif tag == f"{_D}getcontenttype":
            values.append(f"<getcontenttype>text/calendar;charset={encoding};"
                          f"component={component}</getcontenttype>")
        else:
            values.append("<resourcetype />")
    return (f"<response><href>{escape(href)}</href><propstat><prop>{''.join(values)}</prop>"
            "<status>HTTP/1.1 200 OK</status></propstat></response>")


class ApplicationPartListingPropfind(ApplicationBase):
    def do_PROPFIND(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                    user_groups: set, request_info: dict) -> types.WSGIResponse:
        if environ.get("HTTP_DEPTH", "0") != "1" or self._sharing._enabled:
            return super().do_PROPFIND(environ, base_prefix, path, user, user_groups,
                                       request_info)
        body = httputils.read_raw_request_body(self.configuration, environ)
        props = listing_props(body)
        if props is not None:
            with self._storage.acquire_lock("r", user):
                collection = next(iter(self._storage.discover(path)), None)
                rows = None
                if isinstance(collection, Collection) and collection.tag == "VCALENDAR":
                    rows = collection.store.object_summaries(collection.record.id)
            if rows is not None:
                access = Access(self._rights, user, user_groups, path)
                if "r" not in access.permissions:
                    return httputils.NOT_ALLOWED
                # The collection's own response is Radicale's (depth 0); its members follow.
                own = dict(environ, HTTP_DEPTH="0", CONTENT_LENGTH=str(len(body)),
                           **{"wsgi.input": io.BytesIO(body)})
                status, headers, answer, logged = super().do_PROPFIND(
                    own, base_prefix, path, user, user_groups, request_info)
                if status == 207 and isinstance(answer, bytes) and \
                        answer.rstrip().endswith(_CLOSING) and b'xmlns="DAV:"' in answer:
                    prefix = f"{base_prefix}/{collection.path}/"
                    members = "".join(
                        item_response(quote(prefix + href), etag, modified, component, props,
                                      self._encoding)
                        for href, etag, modified, component in rows)
                    cut = answer.rstrip().rindex(_CLOSING)
                    answer = answer[:cut] + members.encode(self._encoding) + answer[cut:]
                    return status, headers, answer, logged
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return super().do_PROPFIND(environ, base_prefix, path, user, user_groups, request_info)
