"""REPORT sync-collection (RFC 6578) on a calendar, answered from the store's rows.

Radicale loads every changed object into an Item, pops them one by one from the front of a
list (quadratic in the answer's size) and builds an ElementTree of the whole answer. Here the
change log and the index columns answer it from one read snapshot, and the document is written
by ``MultistatusWriter``.

Decisions:
- The answer is Radicale's, element for element: the sync token first, then a 404 response per
  href deleted since the token, then one response per present object with the asked properties
  (getetag; getcontenttype; calendar-data (and address-data, as Radicale answers it) as the
  stored text, whole: Radicale ignores C:comp/C:prop subsets too; anything else in a 404
  propstat); no response for present objects when no property is asked, as Radicale. Objects
  come in href order (Radicale's order is the storage's).
- One read transaction on the request's connection (``CalendarStore.reading``) answers it all,
  token and rows alike. Etags only (what DAVx5, Thunderbird and Apple ask first) read no text;
  calendar-data reads the texts ``batch`` rows at a time and parses none.
- Radicale's bound holds: more than ``reporting.max_expand_occurrence`` VEVENTs in the
  calendar-data of one answer is 400, as Radicale answers it.
- A foreign, malformed or expired token is 403 DAV:valid-sync-token, as Radicale answers it.
- With Radicale's own sharing enabled, or on anything that is not one of calbridge's calendars
  (address books, principals), Radicale answers.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import client

from radicale import types

from radicale_plugin.app.multistatus import GETCONTENTTYPE, GETETAG, MultistatusWriter
from radicale_plugin.internals import BAD_REQUEST, NOT_ALLOWED, Access, ReportPart
from radicale_plugin.storage import Collection

_D = "{DAV:}"
CALENDAR_DATA = "{urn:ietf:params:xml:ns:caldav}calendar-data"
ADDRESS_DATA = "{urn:ietf:params:xml:ns:carddav}address-data"
_TEXT_PROPS = frozenset({CALENDAR_DATA, ADDRESS_DATA})


@dataclass(frozen=True)
class SyncQuery:
    token: str
    props: list[str]  # clark names, in the order asked


def parse_sync_query(root: ET.Element) -> SyncQuery | None:
    if root.tag != f"{_D}sync-collection":
        return None
    prop = root.find(f"{_D}prop")
    return SyncQuery((root.findtext(f"{_D}sync-token") or "").strip(),
                     [child.tag for child in prop] if prop is not None else [])


def vevent_count(text: str) -> int:
    """VEVENTs in a served text, counted as Radicale counts them for its bound."""
    return sum(1 for line in text.splitlines() if line.upper() == "BEGIN:VEVENT")


class TooManyVevents(Exception):
    pass


def write_responses(writer: MultistatusWriter, prefix: str, props: Sequence[str],
                    batches: Iterable[Sequence[Sequence]], encoding: str,
                    max_vevents: int) -> None:
    """One response per row (href, etag, last modified, component[, text]) with ``props``."""
    found_tags = [t for t in props if t in _TEXT_PROPS or t in (GETETAG, GETCONTENTTYPE)]
    missing = [t for t in props if t not in found_tags]
    vevents = 0
    for rows in batches:
        for row in rows:
            href, etag, component = row[0], row[1], row[3]
            found = []
            for tag in found_tags:
                element = ET.Element(tag)
                if tag == GETETAG:
                    element.text = etag
                elif tag == GETCONTENTTYPE:
                    element.text = f"text/calendar;charset={encoding};component={component}"
                else:
                    element.text = row[4]
                    vevents += vevent_count(row[4])
                    if max_vevents and vevents > max_vevents:
                        raise TooManyVevents(f"more than {max_vevents} VEVENTs")
                found.append(element)
            writer.item_response(prefix + href, found, [ET.Element(t) for t in missing])


class ApplicationPartSyncReport(ReportPart):
    def sync_report(self, base_prefix: str, path: str, user: str, user_groups: set,
                    query: SyncQuery, request_info: dict) -> types.WSGIResponse | None:
        """The answer, or None when Radicale must answer (not a calendar of ours)."""
        access = Access(self.rights, user, user_groups, path, None)
        if not access.check("r"):
            return NOT_ALLOWED
        with self.storage.acquire_lock("r", user):
            collection = next(iter(self.storage.discover(path)), None)
            if not isinstance(collection, Collection) or collection.tag != "VCALENDAR":
                return None
            if not access.check("r", collection):
                return NOT_ALLOWED
            store, collection_id = collection.store, collection.record.id
            writer = MultistatusWriter(self.encoding)
            prefix = f"{base_prefix}/{collection.path}/"
            with_text = bool(_TEXT_PROPS & set(query.props))
            with store.reading() as snapshot:
                try:
                    delta = snapshot.sync_delta(collection_id, query.token)
                except ValueError:
                    return self.webdav_error(client.FORBIDDEN, "D:valid-sync-token", request_info)
                if delta is None:
                    return None
                token = ET.Element(f"{_D}sync-token")
                token.text = delta.token
                writer.element(token)
                for href in delta.deleted:
                    writer.missing_response(prefix + href)
                if query.props:
                    try:
                        write_responses(writer, prefix, query.props,
                                        snapshot.sync_rows(collection_id, delta.since, with_text),
                                        self.encoding, self.max_expand_occurrence)
                    except TooManyVevents:
                        return BAD_REQUEST
        headers = {"Content-Type": f"text/xml; charset={self.encoding}"}
        request_info["status"] = client.MULTI_STATUS
        return client.MULTI_STATUS, headers, writer.to_bytes(), None
