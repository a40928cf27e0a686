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
  answer's closing tag): the same bytes; +0.2 ms at 351 members, +5 ms at 10,000 (20 to 40 %
  of the serialization), for parsing Radicale's part and escaping every text. End to end, a
  depth-1 getetag PROPFIND of 1,000 events took 16.3 ms against 15.0 ms (medians of 150
  alternating requests to both servers), with byte-equal answers.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

from radicale_plugin.internals import NAMESPACES, status_text

_DAV = "DAV:"
_REGISTERED = {url: ("" if short == "D" else short) for short, url in NAMESPACES.items()}
_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#09;"}
_OK = status_text(200)


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

    def text_responses(self, tags: Sequence[str], rows: Iterable[tuple[str, Sequence[str]]]
                       ) -> None:
        """Responses with one propstat (200 OK) of the text properties ``tags`` (clark names):
        (href, texts in the order of ``tags``) each; an empty text is an empty element.
        Hrefs are already quoted. The tags' names are looked up once, not per row."""
        names = [self._qname(tag) for tag in tags]
        shapes = [(f"<{name}>", f"</{name}>", f"<{name} />") for name in names]
        tail = f"</prop><status>{_OK}</status></propstat></response>"
        extend = self._parts.extend
        for href, texts in rows:
            # Flat pieces joined once at the end, and escape() inlined as the three replaces
            # it makes: per row, a nested join and a call per text cost a fifth more.
            values = [opening + text.replace("&", "&amp;").replace("<", "&lt;").replace(
                ">", "&gt;") + closing if text else empty
                for (opening, closing, empty), text in zip(shapes, texts, strict=True)]
            extend(["<response><href>", escape(href), "</href><propstat><prop>", *values, tail])

    def to_bytes(self) -> bytes:
        declarations = "".join(
            f' xmlns{":" + prefix if prefix else ""}="{escape(uri, _ATTRIBUTE_ENTITIES)}"'
            for uri, prefix in sorted(self._namespaces.items(), key=lambda item: item[1]))
        head = (f"<?xml version='1.0' encoding='{self._encoding}'?>\n"
                f"<multistatus{declarations}>")
        return (head + "".join(self._parts) + "</multistatus>").encode(self._encoding)
