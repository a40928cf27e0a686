"""The one iCalendar text codec: stored text split into raw pieces and joined back, byte for byte.

Every door edits or re-emits the text a client wrote (the REST patch, CalDAV expand, the feeds),
so none of them re-serializes through icalendar, which would reorder and refold the object.

Decisions:
- ``Document.parse`` finds the top-level components (the children of VCALENDAR) by their BEGIN
  and END lines alone; everything between them (calendar properties, stray lines) is kept as
  raw strings. ``Document.text()`` of an unedited document is the input, byte for byte.
- A ``Block`` (one top-level component) splits into its own properties and nested components
  (``Item``) only when first asked, so joining many objects (feeds) costs one regex scan each.
- Lines are split on LF only: str.splitlines would also split inside a value at U+2028.
- Names of components and properties compare case-insensitively; folded BEGIN/END lines are
  unfolded before they are read.
- New lines are folded as RFC 5545 3.1 asks: at most 75 octets, never inside a UTF-8 sequence,
  never between a backslash or caret and the character it escapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

_PHYSICAL_LINE = re.compile(r"[^\n]*\n|[^\n]+")
_FOLD = re.compile(r"\r?\n[ \t]")
_NAME = re.compile(r"[A-Za-z0-9-]+")
# name, parameters (quoted ones may hold a colon), then the value
_VALUE = re.compile(r'[^";:]*(?:;(?:[^":]|"[^"]*")*)?:(.*)', re.DOTALL)
# A BEGIN or END line with its folded continuations (continuations start with a blank).
_REST_OF_LINE = r"[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*"
# Searched for after a newline, not with ^ and MULTILINE: the literal lets re skip ahead (3x).
_BOUNDARY = re.compile(rf"\n(BEGIN|END):({_REST_OF_LINE})", re.IGNORECASE)


def unfold(raw: str) -> str:
    """One logical line without its folding and its line ending."""
    return _FOLD.sub("", raw).rstrip("\r\n")


def logical_lines(text: str) -> list[str]:
    """The logical lines of ``text``, each with its continuations and line ending as written."""
    lines: list[str] = []
    for physical in _PHYSICAL_LINE.findall(text):
        if physical[:1] in (" ", "\t") and lines:
            lines[-1] += physical
        else:
            lines.append(physical)
    return lines


def newline_of(text: str) -> str:
    """The line ending a text uses (CRLF unless it holds LF-only lines)."""
    return "\r\n" if "\r\n" in text or not text else "\n"


def fold(line: str, newline: str) -> str:
    """``line`` folded (RFC 5545 3.1) and ended with ``newline``."""
    pieces: list[str] = []
    current: list[str] = []
    size, limit = 0, 75
    for char in line:
        octets = len(char.encode())
        if current and size + octets > limit:
            carried = current.pop() if current[-1] in "\\^" and len(current) > 1 else ""
            pieces.append("".join(current))
            current, size, limit = [carried] if carried else [], len(carried), 74
        current.append(char)
        size += octets
    pieces.append("".join(current))
    return (newline + " ").join(pieces) + newline


def content_line(newline: str, name: str, value: str,
                 params: Sequence[tuple[str, str]] = ()) -> str:
    """One folded content line; ``value`` and the ``params`` values already encoded."""
    head = name + "".join(f";{key}={encoded}" for key, encoded in params)
    return fold(f"{head}:{value}", newline)


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11); icalendar's escape_char would also turn "\\N" into a
    newline."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n"))


_TEXT_ESCAPE = re.compile(r"\\([\\;,nN])")


def unescape_text(value: str) -> str:
    return _TEXT_ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _head(raw: str) -> str:
    return unfold(raw).strip().upper()


@dataclass
class Item:
    """One own property of a component (``name`` set) or one nested component such as a VALARM
    (``name`` None), as the raw stored text: continuations and line endings included."""

    name: str | None
    raw: str

    @classmethod
    def property(cls, raw: str) -> Item:
        match = _NAME.match(raw)
        return cls(match.group(0).upper() if match else "", raw)


class Block:
    """One top-level component, kept as its raw text until its items are read or edited."""

    def __init__(self, name: str, raw: str) -> None:
        self.name = name
        self._raw = raw
        self._split: tuple[str, list[Item], str] | None = None

    def _parts(self) -> tuple[str, list[Item], str]:
        if self._split is None:
            self._split = _split_block(self._raw)
        return self._split

    @property
    def items(self) -> list[Item]:
        return self._parts()[1]

    @items.setter
    def items(self, items: list[Item]) -> None:
        begin, _, end = self._parts()
        self._split = (begin, items, end)

    def props(self, name: str) -> list[Item]:
        return [item for item in self.items if item.name == name]

    def first_value(self, name: str) -> str | None:
        """The unfolded value of the first own ``name`` property (parameters skipped); an
        unsplit block is searched, not split (a VTIMEZONE can be hundreds of lines)."""
        if self._split is not None:
            raws = [item.raw for item in self.props(name)]
        else:
            pattern = re.compile(rf"\n{re.escape(name)}[;:]{_REST_OF_LINE}", re.IGNORECASE)
            # before the first nested BEGIN (or the END), every line is the block's own
            nested = _BOUNDARY.search(self._raw, 1)
            own = pattern.search(self._raw, 0, nested.start()) if nested else None
            raws = [own.group(0)] if own else [
                match.group(0) for match in pattern.finditer(self._raw)
                if _depth(self._raw, match.start()) == 1]
        if not raws:
            return None
        value = _VALUE.match(unfold(raws[0]).strip("\n"))
        return value.group(1) if value else ""

    def _insert_at(self, anchors: Sequence[str]) -> int:
        # after the last property named in ``anchors``, else before the first nested component
        for anchor in anchors:
            found = [i for i, item in enumerate(self.items) if item.name == anchor]
            if found:
                return found[-1] + 1
        nested = [i for i, item in enumerate(self.items) if item.name is None]
        return nested[0] if nested else len(self.items)

    def replace(self, names: Iterable[str], raws: Sequence[str],
                anchors: Sequence[str] = ()) -> None:
        """Drops every property called one of ``names`` and puts ``raws`` where the first of
        them was (or after ``anchors`` when there was none)."""
        names = set(names)
        positions = [i for i, item in enumerate(self.items) if item.name in names]
        at = positions[0] if positions else self._insert_at(anchors)
        kept_before = [item for item in self.items[:at] if item.name not in names]
        kept_after = [item for item in self.items[at:] if item.name not in names]
        self.items = kept_before + [Item.property(raw) for raw in raws] + kept_after

    def insert(self, raws: Sequence[str], anchors: Sequence[str] = ()) -> None:
        at = self._insert_at(anchors)
        self.items[at:at] = [Item.property(raw) for raw in raws]

    def lines(self) -> list[str]:
        """The logical lines of the component, BEGIN and END included."""
        return logical_lines(self.text())

    def text(self) -> str:
        if self._split is None:
            return self._raw
        begin, items, end = self._split
        return begin + "".join(item.raw for item in items) + end


def _boundaries(text: str, stop: int | None = None) -> Iterator[tuple[bool, str, int, int]]:
    """(is BEGIN, the raw name, where the line starts, where its content ends) of each BEGIN
    and END line of ``text`` (up to ``stop``)."""
    shifted = "\n" + text  # so that a first line is found too; positions shift back by one
    for match in _BOUNDARY.finditer(shifted, 0, len(shifted) if stop is None else stop + 1):
        yield (match.group(1).upper() == "BEGIN", match.group(2), match.start(),
               match.end() - 1)


def _depth(text: str, at: int) -> int:
    """How many components are open at ``at`` in ``text``."""
    return sum(1 if begin else -1 for begin, _, _, _ in _boundaries(text, at))


def _split_block(raw: str) -> tuple[str, list[Item], str]:
    """(BEGIN line, items, END line) of one component's raw text."""
    lines = logical_lines(raw)
    if not lines:
        return "", [], ""
    begin, body = lines[0], lines[1:]
    end = body.pop() if body and _head(body[-1]).startswith("END:") else ""
    items: list[Item] = []
    nested: Item | None = None
    depth = 0
    for line in body:
        head = _head(line)
        if nested is not None:
            nested.raw += line
        elif head.startswith("BEGIN:"):
            nested = Item(None, line)
            items.append(nested)
        else:
            items.append(Item.property(line))
        if head.startswith("BEGIN:"):
            depth += 1
        elif head.startswith("END:") and nested is not None:
            depth -= 1
            if depth == 0:
                nested = None
    return begin, items, end


def _line_end(text: str, at: int) -> int:
    if text.startswith("\r\n", at):
        return at + 2
    return at + 1 if text.startswith("\n", at) else at


def _parts(text: str) -> list[str | Block]:
    """The top-level components of ``text`` and the raw text around them."""
    parts: list[str | Block] = []
    done = 0  # the text before ``done`` is in ``parts``
    start, name, depth = 0, "", 0
    for begin, raw_name, line_start, line_end in _boundaries(text):
        if begin:
            depth += 1
            if depth == 2:
                start, name = line_start, unfold(raw_name).strip().upper()
            continue
        if depth == 2:
            if start > done:
                parts.append(text[done:start])
            done = _line_end(text, line_end)
            parts.append(Block(name, text[start:done]))
        depth -= 1
    if done < len(text):
        parts.append(text[done:])
    return parts


_PLAIN_NAME = re.compile(r"[A-Z][A-Z0-9-]*")


def _plain_parts(text: str) -> list[str | Block] | None:
    """``_parts`` by str.find, for the usual text (one VCALENDAR, upper-case and unfolded BEGIN
    and END lines, no component inside one of its own name); None for any other text, which
    ``_parts`` reads. Joining a feed reads thousands of objects: this is several times faster."""
    begins = text.count("\nBEGIN:")
    if not text.startswith("BEGIN:VCALENDAR") or text.count("\nEND:") != begins + 1:
        return None
    lowered = text.lower()
    if lowered.count("\nbegin:") != begins or lowered.count("\nend:") != begins + 1:
        return None
    parts: list[str | Block] = []
    done = 0
    # a line starts after a newline: search from the one that ends the previous part
    while (start := text.find("\nBEGIN:", max(done - 1, 0)) + 1) > 0:
        block = _plain_block(text, start)
        if block is None or text.find("\nEND:VCALENDAR", max(done - 1, 0), start) != -1:
            return None
        if start > done:
            parts.append(text[done:start])
        parts.append(block)
        done = start + len(block.text())
    if done < len(text):
        parts.append(text[done:])
    return parts


def _plain_block(text: str, start: int) -> Block | None:
    """The component whose BEGIN line starts at ``start``, when its lines are plain."""
    newline = text.find("\n", start)
    name = text[start + 6:newline].removesuffix("\r")
    end = text.find(f"\nEND:{name}", start) + 1
    after = end + 4 + len(name)  # just after the END line's name
    stop = _line_end(text, after)
    if newline == -1 or not _PLAIN_NAME.fullmatch(name) or end == 0 or \
            text[newline + 1:newline + 2] in (" ", "\t") or \
            text.find(f"\nBEGIN:{name}", start, end) != -1 or \
            (stop == after and after != len(text)) or text[stop:stop + 1] in (" ", "\t"):
        return None
    return Block(name, text[start:stop])


@dataclass
class Document:
    """A stored object as its top-level components (``Block``) and the raw text around them."""

    parts: list[str | Block]
    newline: str

    @classmethod
    def parse(cls, text: str) -> Document:
        parts = _plain_parts(text)
        return cls(_parts(text) if parts is None else parts, newline_of(text))

    def blocks(self, name: str | None = None) -> list[Block]:
        """The top-level components, or only those called ``name``."""
        return [part for part in self.parts if isinstance(part, Block)
                and (name is None or part.name == name)]

    def text(self) -> str:
        return "".join(part if isinstance(part, str) else part.text() for part in self.parts)
