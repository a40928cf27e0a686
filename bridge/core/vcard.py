"""vCard objects (RFC 2426 vCard 3, RFC 6350 vCard 4): what the store needs from their text.

Decisions:
- A stored vCard is its text as written (for CardDAV, the text Radicale hands the storage, as
  its multifilesystem storage would keep it); this module only reads it: no parse tree, no
  re-serialization, so a PHOTO data URI or an unknown X- property is kept byte for byte.
- One object is one VCARD with a non-empty UID, as Radicale requires of a PUT (RFC 6352 5.1
  asks for one vCard per resource; Radicale makes up UIDs only for a whole-collection PUT,
  before the storage sees the items). VERSION is read but not refused: Radicale's own storage
  keeps whatever VERSION vobject reads (2.1, 3.0, 4.0), and so does calbridge.
- ``cards_by_uid`` splits a request body into its vCards as written, so a CardDAV PUT stores
  the client's bytes rather than vobject's re-serialization (which, in Radicale 3.9 with
  vobject 0.9.9, cuts a vCard 4 ``PHOTO:data:image/...;base64,...`` URI at its comma).
- Lines split on LF only (as the iCalendar codec), names compare case-insensitively, a
  property group (``item1.EMAIL``) is not part of the name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bridge.core.codec import logical_lines, unfold
from bridge.core.index import MAX_UID_LENGTH, TIMESTAMP_MAX, TIMESTAMP_MIN, ObjectIndex
from bridge.core.limits import InvalidObject

# The stored component of a vCard (Radicale's item name; its component_name is "").
VCARD = "VCARD"
_NAME = re.compile(r"(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)")


@dataclass(frozen=True)
class VCard:
    uid: str
    version: str


def is_vcard(text: str) -> bool:
    """Whether ``text`` is vCard data (its first line is BEGIN:VCARD), not iCalendar."""
    head = text.lstrip("\ufeff \t\r\n")[:12].upper()
    return head.startswith("BEGIN:VCARD")


def property_name(line: str) -> tuple[str, str]:
    """(upper-case name without its group, value) of one unfolded content line."""
    match = _NAME.match(line)
    if match is None:
        return "", ""
    rest = line[match.end():]
    value = ""
    if rest.startswith(":"):
        value = rest[1:]
    elif rest.startswith(";"):  # parameters: a quoted one may hold a colon
        quoted = False
        for at, char in enumerate(rest):
            if char == '"':
                quoted = not quoted
            elif char == ":" and not quoted:
                value = rest[at + 1:]
                break
    return match.group(1).upper(), value


def parse_vcard(text: str) -> VCard:
    """The UID and VERSION of one vCard object; InvalidObject says what is wrong."""
    lines = [unfold(raw) for raw in logical_lines(text.lstrip("\ufeff"))]
    lines = [line for line in lines if line.strip()]
    if not lines or lines[0].strip().upper() != "BEGIN:VCARD":
        raise InvalidObject("the object must be one VCARD")
    depth, cards, uids, versions = 0, 0, [], []
    for line in lines:
        name, value = property_name(line)
        if name == "BEGIN":
            if value.strip().upper() != "VCARD" or depth:
                raise InvalidObject(f"unexpected BEGIN:{value.strip()} in a vCard")
            depth, cards = 1, cards + 1
        elif name == "END":
            if value.strip().upper() != "VCARD" or not depth:
                raise InvalidObject(f"unexpected END:{value.strip()} in a vCard")
            depth = 0
        elif not depth:
            raise InvalidObject("content outside BEGIN:VCARD ... END:VCARD")
        elif name == "UID":
            uids.append(value.strip())
        elif name == "VERSION":
            versions.append(value.strip())
    if depth:
        raise InvalidObject("the vCard has no END:VCARD")
    if cards != 1:
        raise InvalidObject(f"one vCard per object, got {cards}")
    if len(uids) != 1 or not uids[0]:
        raise InvalidObject("the vCard needs one non-empty UID")
    if len(uids[0]) > MAX_UID_LENGTH:
        raise InvalidObject(f"the UID is longer than {MAX_UID_LENGTH} characters")
    return VCard(uids[0], versions[0] if versions else "")


def cards_by_uid(text: str) -> dict[str, str]:
    """UID -> the text of each vCard of ``text`` as written (its lines and line endings),
    for UIDs that occur once; cards that do not read as one vCard are left out."""
    cards: list[str] = []
    current: list[str] | None = None
    for raw in logical_lines(text.lstrip("\ufeff")):
        name, value = property_name(unfold(raw))
        if name == "BEGIN" and value.strip().upper() == "VCARD" and current is None:
            current = [raw]
        elif current is not None:
            current.append(raw)
            if name == "END" and value.strip().upper() == "VCARD":
                cards.append("".join(current))
                current = None
    found: dict[str, str | None] = {}
    for card in cards:
        try:
            uid = parse_vcard(card).uid
        except InvalidObject:
            continue
        found[uid] = None if uid in found else card
    return {uid: card for uid, card in found.items() if card is not None}


def vcard_index(card: VCard) -> ObjectIndex:
    """A vCard's index row: its UID, no time (Radicale's time_range of a vCard is everything),
    no occurrence rows, never re-indexed."""
    return ObjectIndex(card.uid, VCARD, TIMESTAMP_MIN, TIMESTAMP_MAX, TIMESTAMP_MIN,
                       TIMESTAMP_MIN)
