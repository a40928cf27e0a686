"""REPORT with <C:expand>, answered from the occurrence index (sync-collection: ``sync.py``).

Radicale strips the time range from such a query before storage sees it, then parses and
expands every event of the calendar (and never expands to-dos or journals). Here the window
goes to the occurrence index (VTODO and VJOURNAL: to their envelope), and only the objects with
an instance in it are expanded (with recurring-ical-events, the same path for all three
components), within the limits: a window outside C:min-date-time / C:max-date-time, one object
with more than C:max-instances instances in it, or more than max_instances_per_request in all
is 403 with that precondition (DAV:number-of-matches-within-limits for the last, RFC 4791 7.8)."""

from __future__ import annotations

import datetime as dt
import posixpath
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from http import client

import defusedxml.ElementTree as DefusedET
from radicale import item as radicale_item
from radicale import pathutils, types
from radicale.log import logger

from bridge.core.expand import expanded_calendar_text
from bridge.core.limits import (
    MAX_DATE_TIME,
    MIN_DATE_TIME,
    LimitExceeded,
    OutsideDateRange,
    TooManyInstances,
    TooManyMatches,
)
from radicale_plugin.app.sync import ApplicationPartSyncReport, parse_sync_query
from radicale_plugin.internals import (
    NOT_ALLOWED,
    Access,
    content_type,
    item_response,
    parse_time_range,
    read_raw_body,
    rewind_body,
)
from radicale_plugin.storage import Collection

_C = "{urn:ietf:params:xml:ns:caldav}"
_D = "{DAV:}"
_EXPAND_FORMAT = "%Y%m%dT%H%M%SZ"


EXPANDED = ("VEVENT", "VTODO", "VJOURNAL")


@dataclass(frozen=True)
class ExpandQuery:
    """A calendar-query whose only filter is VCALENDAR > VEVENT, VTODO or VJOURNAL
    [> time-range], with expand."""

    start: dt.datetime
    end: dt.datetime
    props: list[ET.Element]
    component: str = "VEVENT"


def parse_expand_query(root: ET.Element | None) -> ExpandQuery | None:
    """The query if this fast path can answer it exactly, else None (Radicale answers)."""
    if root is None or root.tag != f"{_C}calendar-query":
        return None
    expand = root.find(f".//{_C}expand")
    prop = root.find(f"{_D}prop")
    filters = root.findall(f"{_C}filter")
    if expand is None or prop is None or len(filters) != 1:
        return None
    try:
        start = dt.datetime.strptime(expand.get("start", ""), _EXPAND_FORMAT).replace(tzinfo=dt.UTC)
        end = dt.datetime.strptime(expand.get("end", ""), _EXPAND_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    calendar_filter = list(filters[0])
    if len(calendar_filter) != 1 or calendar_filter[0].get("name", "").upper() != "VCALENDAR":
        return None
    event_filter = list(calendar_filter[0])
    component = event_filter[0].get("name", "").upper() if len(event_filter) == 1 else ""
    if event_filter[0].tag != f"{_C}comp-filter" or component not in EXPANDED:
        return None
    inner = list(event_filter[0])
    if len(inner) > 1 or (inner and inner[0].tag != f"{_C}time-range"):
        return None
    if inner:
        range_start, range_end = parse_time_range(inner[0])
        start, end = max(start, range_start), min(end, range_end)
    return ExpandQuery(start, end, list(prop), component)


class ApplicationPartExpandReport(ApplicationPartSyncReport):
    def do_REPORT(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                  user_groups: set, request_info: dict) -> types.WSGIResponse:
        body = read_raw_body(self, environ)
        rewind_body(environ, body)
        root = None
        if body and not self.sharing_enabled:
            try:
                root = DefusedET.fromstring(body)
            except ET.ParseError:
                root = None
        query = parse_expand_query(root)
        sync = parse_sync_query(root) if root is not None else None
        response = None
        if query is not None:
            response = self._expand_report(base_prefix, path, user, user_groups, query,
                                           request_info)
        elif sync is not None:
            response = self.sync_report(base_prefix, path, user, user_groups, sync, request_info)
        if response is not None:
            return response
        rewind_body(environ, body)
        return super().do_REPORT(environ, base_prefix, path, user, user_groups, request_info)

    def _expand_report(self, base_prefix: str, path: str, user: str, user_groups: set,
                       query: ExpandQuery, request_info: dict) -> types.WSGIResponse | None:
        access = Access(self.rights, user, user_groups, path, None)
        if not access.check("r"):
            return NOT_ALLOWED
        if query.start < MIN_DATE_TIME or query.end > MAX_DATE_TIME + dt.timedelta(seconds=1):
            refusal = OutsideDateRange("the expand window", query.start < MIN_DATE_TIME)
            return self.webdav_error(client.FORBIDDEN, refusal.precondition, request_info)
        with self.storage.acquire_lock("r", user):
            collection = next(iter(self.storage.discover(path)), None)
            if not isinstance(collection, Collection) or collection.tag != "VCALENDAR":
                return None  # an item, a principal, or not ours: Radicale's own path
            if not access.check("r", collection):
                return NOT_ALLOWED
            start_ts = int(query.start.timestamp())
            end_ts = int(query.end.timestamp())
            # VTODOs and VJOURNALs come by their envelope (not materialized); expansion decides.
            matches = collection.store.objects_in_window(collection.record.id, start_ts, end_ts,
                                                         query.component)
            items = [collection.item_from(m.record) for m in matches]
        try:
            multistatus = self._expanded(base_prefix, collection, items, query)
        except LimitExceeded as exc:
            logger.info("expand REPORT on %r refused: %s", path, exc)
            return self.webdav_error(client.FORBIDDEN, exc.precondition, request_info)
        headers = {"Content-Type": f"text/xml; charset={self.encoding}"}
        request_info["status"] = client.MULTI_STATUS
        return client.MULTI_STATUS, headers, self.xml_answer(multistatus, request_info), None

    def _expanded(self, base_prefix: str, collection: Collection, items: list[radicale_item.Item],
                  query: ExpandQuery) -> ET.Element:
        limits = collection.store.limits
        multistatus = ET.Element(f"{_D}multistatus")
        total = 0
        too_many = TooManyMatches(f"more than {limits.max_instances_per_request} instances "
                                  "in the window")
        for item in items:
            # An object may yield what is left of the request's instances, at most its own cap.
            room = limits.max_instances_per_request - total
            try:
                text, count = expanded_calendar_text(item.serialize(), query.start, query.end,
                                                     item.etag, min(room, limits.max_instances),
                                                     query.component)
            except TooManyInstances as exc:
                if type(exc) is TooManyInstances and room < limits.max_instances:
                    raise too_many from exc
                raise
            except LimitExceeded:
                raise
            except Exception as exc:  # a broken stored object must not hide the others
                logger.warning("cannot expand %r: %s", item.href, exc)
                continue
            if count == 0:
                continue
            total += count
            found, not_found = [], []
            for prop in query.props:
                element = ET.Element(prop.tag)
                if prop.tag == f"{_D}getetag":
                    element.text = item.etag
                    found.append(element)
                elif prop.tag == f"{_C}calendar-data":
                    element.text = text
                    found.append(element)
                elif prop.tag == f"{_D}getcontenttype":
                    element.text = content_type(item, self.encoding)
                    found.append(element)
                else:
                    not_found.append(element)
            assert item.href
            uri = pathutils.unstrip_path(posixpath.join(collection.path, item.href))
            multistatus.append(item_response(base_prefix, uri, found, not_found))
        return multistatus
