"""Hostile input stopped at the door, before Flask or Radicale parse a byte of it.

- Bodies are bounded: REST JSON by ``input.max_json_bytes``; CalDAV XML methods by
  ``input.max_xml_bytes``; an object PUT by ``storage.max_object_bytes``; a whole-calendar PUT
  by Radicale's ``max_content_length``. A declared Content-Length over the bound is 413 before
  the body is read; a chunked body without one is read up to the bound and no further.
- JSON nested deeper than ``input.max_json_depth`` is 400 ``JSON_TOO_DEEP`` (Python's parser
  would overflow its recursion limit: a 500).
- CalDAV XML is checked with expat first: a DTD (and so any entity declaration, internal or
  external) is refused, elements nest at most ``input.max_xml_depth`` deep, and the document
  element must be the one the method takes (400). Radicale then parses a harmless document.
- Basic credentials that are not base64, not UTF-8, or have no colon are 401 (Radicale's own
  decoding raises: a 500). A charset Python does not know is 415 (Radicale's decoding raises).
- An object PUT is refused (413) before vobject sees it when an unfolded content line is longer
  than ``input.max_ical_line_bytes`` or it has more than ``input.max_ical_lines`` lines:
  vobject and icalendar take about 0.2 ms per line, so shape, not only size, bounds the work.
  Bodies that are not text in their declared charset (UTF-8 by default) are 400.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from xml.parsers import expat

from flask import request

from bridge.config import Settings
from bridge.errors import ValidationFailed
from bridge.services import services

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_DAV = "{DAV:}"
_CALDAV = "{urn:ietf:params:xml:ns:caldav}"
# The document element each CalDAV method takes (None: any; Radicale answers unknown reports).
XML_ROOTS: dict[str, frozenset[str] | None] = {
    "PROPFIND": frozenset({f"{_DAV}propfind"}),
    "PROPPATCH": frozenset({f"{_DAV}propertyupdate"}),
    "MKCALENDAR": frozenset({f"{_CALDAV}mkcalendar"}),
    "MKCOL": frozenset({f"{_DAV}mkcol"}),
    "REPORT": None,
}
# An empty <propfind/> or <propertyupdate/> makes Radicale index a missing child (a 500).
NEEDS_CHILD = frozenset({"PROPFIND", "PROPPATCH"})


@dataclass(frozen=True)
class InputLimits:
    """The CalDAV door's bounds (the REST door's are read by ``guard_json_body``)."""

    xml_bytes: int
    xml_depth: int
    ical_line_bytes: int
    ical_lines: int
    object_bytes: int
    collection_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings, collection_bytes: int) -> InputLimits:
        def limit(key: str) -> int:
            return int(settings.get("input", key))

        return cls(xml_bytes=limit("max_xml_bytes"), xml_depth=limit("max_xml_depth"),
                   ical_line_bytes=limit("max_ical_line_bytes"),
                   ical_lines=limit("max_ical_lines"),
                   object_bytes=int(settings.get("storage", "max_object_bytes")),
                   collection_bytes=collection_bytes)


# -- pure checks ---------------------------------------------------------------------------

# A JSON string (possessive, so a hostile body never backtracks; an unterminated string just
# runs to the end), or one bracket.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]++|\\.)*+"?|[\[\]{}]')


def json_too_deep(body: bytes, max_depth: int) -> bool:
    """Whether arrays and objects in ``body`` nest deeper than ``max_depth`` (brackets inside
    strings do not count). Linear in the body, without parsing it."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    depth = 0
    for match in _JSON_TOKEN.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


class _Refused(Exception):
    pass


def xml_problem(body: bytes, max_depth: int, roots: frozenset[str] | None = None,
                needs_child: bool = False) -> str | None:
    """Why ``body`` is refused as a CalDAV request document, or None if it is harmless."""
    parser = expat.ParserCreate(namespace_separator="}")
    depth = 0
    root: list[str] = []
    children: set[str] = set()
    href: list[str] | None = None

    def start(name: str, _attributes: object) -> None:
        nonlocal depth, href
        depth += 1
        if depth > max_depth:
            raise _Refused(f"XML elements nest deeper than {max_depth}")
        tag = "{" + name if "}" in name else name
        if not root:
            root.append(tag)
        elif depth == 2:
            children.add(tag)
        href = [] if tag == f"{_DAV}href" else None

    def text(data: str) -> None:
        if href is not None:
            href.append(data)

    def end(_name: str) -> None:
        nonlocal depth, href
        depth -= 1
        if href is not None and not "".join(href).strip():
            raise _Refused("an empty href")  # Radicale asserts on it
        href = None

    def doctype(*_args: object) -> None:
        # No CalDAV request needs a DTD; without one, no entity can be declared, so neither
        # expansion bombs nor external entities (files, URLs) can reach any parser.
        raise _Refused("a DOCTYPE is not accepted")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = doctype
    try:
        parser.Parse(body, True)
    except _Refused as exc:
        return str(exc)
    except expat.ExpatError as exc:
        return f"malformed XML ({exc})"
    if roots is not None and root[0] not in roots:
        return f"the document element must be {' or '.join(sorted(roots))}"
    if needs_child and not children:
        return f"{root[0]} is empty"
    if root[0] == f"{_CALDAV}free-busy-query" and f"{_CALDAV}time-range" not in children:
        return "a free-busy-query needs a time-range"  # Radicale asserts on it
    return None


def basic_credentials_problem(header: str | None) -> str | None:
    """Why a ``Basic`` Authorization header cannot be read, or None (also for other schemes)."""
    if not header or not header.startswith("Basic"):
        return None
    try:
        decoded = base64.b64decode(header[len("Basic"):].strip().encode("ascii"), validate=True)
        text = decoded.decode("utf-8")
    except (binascii.Error, UnicodeError):
        return "Basic credentials must be base64 of UTF-8 text"
    if ":" not in text:
        return "Basic credentials must be user:password"
    return None


def declared_charset(content_type: str | None) -> str | None:
    """The charset parameter as Radicale reads it (its decoding fails on an unknown one)."""
    if not content_type or "charset=" not in content_type:
        return None
    return content_type.split("charset=")[1].split(";")[0].strip()


# A line break that is not followed by a folded continuation: the end of a content line.
_LINE_END = re.compile(rb"\n(?![ \t])")


def ical_problem(body: bytes, max_line_bytes: int, max_lines: int | None) -> str | None:
    """Why an iCalendar body would cost too much to parse, or None. Lines are counted
    unfolded (RFC 5545 3.1), by their raw bytes."""
    if max_lines is not None:
        folds = body.count(b"\n ") + body.count(b"\n\t")
        if body.count(b"\n") - folds + 1 > max_lines:
            return f"more than {max_lines} content lines"
    previous = -1
    for match in _LINE_END.finditer(body):
        if match.start() - previous > max_line_bytes:
            return f"a content line is longer than {max_line_bytes} bytes"
        previous = match.start()
    if len(body) - previous > max_line_bytes:
        return f"a content line is longer than {max_line_bytes} bytes"
    return None


# -- the CalDAV door (WSGI, in front of Radicale) ------------------------------------------


def _content_length(environ: dict[str, Any]) -> int | None:
    """The declared length; None when absent; -1 when it is not a number."""
    raw = environ.get("CONTENT_LENGTH")
    if raw in (None, ""):
        return None
    try:
        length = int(raw)
    except ValueError:
        return -1
    return length if length >= 0 else -1


def _read_capped(stream: Any, limit: int) -> bytes | None:
    """Up to ``limit`` bytes of a body of unknown length, or None if it is longer."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(65536, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    return None


class CalDavGuard:
    """WSGI middleware in front of Radicale: refuses what would make it fail or spin."""

    def __init__(self, app: WSGIApp, limits: InputLimits, realm: str) -> None:
        self.app = app
        self.limits = limits
        self.realm = realm

    def body_limit(self, method: str, path: str) -> int:
        if method == "PUT":
            # /<user>/<calendar>/<object>: one object; anything shallower a whole collection
            return self.limits.object_bytes if self._is_object(path) \
                else self.limits.collection_bytes
        return self.limits.xml_bytes

    @staticmethod
    def _is_object(path: str) -> bool:
        return len([p for p in path.split("/") if p]) >= 3

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "").upper()
        path = environ.get("PATH_INFO", "")
        problem = basic_credentials_problem(environ.get("HTTP_AUTHORIZATION"))
        if problem:
            return _refuse(start_response, 401, problem,
                           [("WWW-Authenticate", f'Basic realm="{self.realm}"')])
        charset = declared_charset(environ.get("CONTENT_TYPE"))
        if charset is not None:
            try:
                codecs.lookup(charset)
            except LookupError:
                return _refuse(start_response, 415, f"unknown charset {charset!r}")
        limit = self.body_limit(method, path)
        length = _content_length(environ)
        if length == -1:
            return _refuse(start_response, 400, "invalid Content-Length")
        if length is not None and length > limit:
            return _refuse(start_response, 413, f"request body larger than {limit} bytes")
        if length is None:
            if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
                return self.app(environ, start_response)
            body = _read_capped(environ["wsgi.input"], limit)
            if body is None:
                return _refuse(start_response, 413, f"request body larger than {limit} bytes")
        else:
            body = environ["wsgi.input"].read(length)
        # Radicale reads exactly CONTENT_LENGTH bytes of wsgi.input.
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        refused = self.body_problem(method, path, body, charset or "utf-8")
        if refused is not None:
            return _refuse(start_response, *refused)
        return self.app(environ, start_response)

    def body_problem(self, method: str, path: str, body: bytes, charset: str
                     ) -> tuple[int, str] | None:
        """(status, reason) if the body of a PUT or an XML method is refused."""
        if not body or (method not in XML_ROOTS and method != "PUT"):
            return None
        try:
            body.decode(charset)
        except UnicodeDecodeError:
            return 400, f"the body is not {charset} text"
        if method == "PUT":
            lines = self.limits.ical_lines if self._is_object(path) else None
            problem = ical_problem(body, self.limits.ical_line_bytes, lines)
            return (413, problem) if problem else None
        problem = xml_problem(body, self.limits.xml_depth, XML_ROOTS[method],
                              method in NEEDS_CHILD)
        return (400, problem) if problem else None


def _refuse(start_response: Callable[..., Any], status: int, reason: str,
            headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = f"{reason}\n".encode()
    phrase = {400: "Bad Request", 401: "Unauthorized", 413: "Content Too Large",
              415: "Unsupported Media Type"}[status]
    start_response(f"{status} {phrase}", [("Content-Type", "text/plain; charset=utf-8"),
                                          ("Content-Length", str(len(body))),
                                          *(headers or [])])
    return [body]


# -- the REST door (Flask) -----------------------------------------------------------------


def guard_json_body() -> None:
    """before_request of the API: the body within ``MAX_CONTENT_LENGTH`` (werkzeug answers
    413 from the Content-Length, or once a chunked body passes it), and not nested too deep."""
    if request.content_length is None and "chunked" not in \
            request.headers.get("Transfer-Encoding", "").lower():
        return
    body = request.get_data(cache=True)
    depth = int(services().settings.get("input", "max_json_depth"))
    if body and json_too_deep(body, depth):
        raise ValidationFailed(f"JSON nested deeper than {depth} levels.", code="JSON_TOO_DEEP")
