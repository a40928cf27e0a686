"""A DAV:multistatus document written as Radicale writes its own, from Radicale's response
elements and from index rows.

Decisions:
- The bytes are those of Radicale's ``_xml_response`` (ElementTree with the prefixes that
  ``radicale.xmlutils`` registers: DAV: as the default namespace, ``ns<N>`` for an unknown
  one as ElementTree numbers them), so a fast answer reads like Radicale's.
- A streaming writer, not ElementTree: building and writing a depth-1 listing of 10,000 members
  through ElementTree took 110 ms against 8 ms written directly (measured on the 2-core dev
  machine), more than the rest of the request. The fixed shape of an index row (one 200
  propstat of text properties) is written directly; anything else (the collection's own
  response, as Radicale answered it) goes through ``element``, a small serializer of parsed
  trees. Each writer is one document: namespaces are declared on its root, as ElementTree does.
- Against the byte splice it replaces (members formatted as strings, inserted before the
  answer's closing tag): the same bytes, and the members are written as that splice wrote them
  (an f-string per row; a ``str.format`` template cost 0.3 us more per row, and computing
  getlastmodified when not asked as much again): 12.1 ms against 11.3 ms for 10,000 rows
  (the writer alone against the old per-row code), plus one parse of Radicale's own
  depth-0 answer.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from urllib.parse import quote
from xml.sax.saxutils import escape

from bridge.core.times import http_date
from radicale_plugin.internals import NAMESPACES, status_text

_DAV = "DAV:"
GETETAG, GETLASTMODIFIED, GETCONTENTTYPE, RESOURCETYPE = (
    "{DAV:}getetag", "{DAV:}getlastmodified", "{DAV:}getcontenttype", "{DAV:}resourcetype")
LISTING_PROPS = frozenset({GETETAG, GETLASTMODIFIED, GETCONTENTTYPE, RESOURCETYPE})
# href, etag, last modified (seconds), component: the store's object summaries
Row = tuple[str, str, int, str]
_REGISTERED = {url: ("" if short == "D" else short) for short, url in NAMESPACES.items()}
_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#09;"}
_OK = status_text(200)
_NOT_FOUND = status_text(404)


def _escape(text: str) -> str:
    """saxutils.escape without its loop over extra entities (a third of a row's cost)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class MultistatusWriter:
    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._namespaces: dict[str, str] = {_DAV: ""}  # uri -> prefix, in order of first use
        self._qnames: dict[str, str] = {}
        self._parts: list[str] = []

    def _qname(self, tag: str) -> str:
        qname = self._qnames.get(tag)
        if qname is None:
            uri, brace, local = tag[1:].partition("}")
            if not tag.startswith("{") or not brace:
                qname = tag
            else:
                prefix = self._namespaces.get(uri)
                if prefix is None:
                    # ElementTree numbers an unregistered namespace by the count seen so far.
                    prefix = _REGISTERED.get(uri, f"ns{len(self._namespaces)}")
                    self._namespaces[uri] = prefix
                qname = f"{prefix}:{local}" if prefix else local
            self._qnames[tag] = qname
        return qname

    def element(self, element: ET.Element) -> None:
        """Append a parsed element (and its children, text and tails) as ElementTree writes it."""
        if not isinstance(element.tag, str):
            return  # a comment or processing instruction: no part of a DAV answer
        parts = self._parts
        qname = self._qname(element.tag)
        attributes = "".join(f' {self._qname(k)}="{escape(v, _ATTRIBUTE_ENTITIES)}"'
                             for k, v in element.items())
        if element.text or len(element):
            parts.append(f"<{qname}{attributes}>{escape(element.text or '')}")
            for child in element:
                self.element(child)
            parts.append(f"</{qname}>")
        else:
            parts.append(f"<{qname}{attributes} />")
        if element.tail:
            parts.append(escape(element.tail))

    def listing_responses(self, tags: Sequence[str], prefix: str, rows: Iterable[Row],
                          encoding: str) -> None:
        """The members of a depth-1 listing, from index rows (href, etag, last modified,
        component), with the listing properties ``tags`` (clark names, see LISTING_PROPS) in
        the order asked: one 200 propstat each, resourcetype empty (no member is a
        collection). Hrefs are quoted here as ``xmlutils.make_href`` quotes them.

        Written with f-strings row by row (``str.format`` with a per-request template cost a
        fifth more at 10,000 rows); only href and etag can hold markup characters."""
        shape = [(tag, f"<{name}>", f"</{name}>", f"<{name} />")
                 for tag, name in ((tag, self._qname(tag)) for tag in tags)]
        content_type = f"text/calendar;charset={_escape(encoding)};component="
        tail = f"</prop><status>{_OK}</status></propstat></response>"
        parts = self._parts
        for href, etag, modified, component in rows:
            values = []
            for tag, opening, closing, empty in shape:
                if tag == GETETAG:
                    values.append(f"{opening}{_escape(etag)}{closing}")
                elif tag == GETLASTMODIFIED:
                    values.append(f"{opening}{http_date(modified)}{closing}")
                elif tag == GETCONTENTTYPE:
                    values.append(f"{opening}{content_type}{component}{closing}")
                else:
                    values.append(empty)
            parts.append(f"<response><href>{_escape(quote(prefix + href))}</href><propstat><prop>"
                         f"{''.join(values)}{tail}")

    def item_response(self, href: str, found: Sequence[ET.Element],
                      not_found: Sequence[ET.Element]) -> None:
        """A response as Radicale's ``xml_item_response`` builds it for a found item: a 200
        propstat, then a 404 one, each only when it has properties; ``href`` unquoted."""
        parts = self._parts
        parts.append(f"<response><href>{_escape(quote(href))}</href>")
        for status, props in ((_OK, found), (_NOT_FOUND, not_found)):
            if props:
                parts.append("<propstat><prop>")
                for prop in props:
                    self.element(prop)
                parts.append(f"</prop><status>{status}</status></propstat>")
        parts.append("</response>")

    def missing_response(self, href: str) -> None:
        """A response for an item that is not there (deleted since a sync token)."""
        self._parts.append(f"<response><href>{_escape(quote(href))}</href>"
                           f"<status>{_NOT_FOUND}</status></response>")

    def to_bytes(self) -> bytes:
        declarations = "".join(
            f' xmlns{":" + prefix if prefix else ""}="{escape(uri, _ATTRIBUTE_ENTITIES)}"'
            for uri, prefix in sorted(self._namespaces.items(), key=lambda item: item[1]))
        head = (f"<?xml version='1.0' encoding='{self._encoding}'?>\n"
                f"<multistatus{declarations}>")
        return (head + "".join(self._parts) + "</multistatus>").encode(self._encoding)


def move_found(response: ET.Element, values: dict[str, ET.Element]) -> None:
    """Take the properties named in ``values`` out of the response's 404 propstat (where
    Radicale lists what it does not know) into a 200 one with their values."""
    found: list[ET.Element] = []
    for propstat in response.findall("{DAV:}propstat"):
        prop = propstat.find("{DAV:}prop")
        if prop is None:
            continue
        for element in list(prop):
            if element.tag in values:
                prop.remove(element)
                found.append(values[element.tag])
        if len(prop) == 0:
            response.remove(propstat)
    if found:
        propstat = ET.SubElement(response, "{DAV:}propstat")
        prop = ET.SubElement(propstat, "{DAV:}prop")
        prop.extend(found)
        ET.SubElement(propstat, "{DAV:}status").text = "HTTP/1.1 200 OK"
