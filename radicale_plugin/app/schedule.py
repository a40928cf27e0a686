"""RFC 6638 on the CalDAV door beyond implicit scheduling (which the storage does on every
PUT and DELETE): the principal's scheduling properties and free/busy through the outbox.

Decisions:
- ``calendar-user-address-set`` names the user's ``mailto:`` address beside Radicale's
  principal URL (clients tell "me" among the attendees by it); ``schedule-outbox-URL`` is
  ``/<user>/outbox/``, which takes only free/busy POSTs; ``schedule-default-calendar-URL`` is
  the calendar invitations land in (the user's first calendar).
- The schedule inbox (``/<user>/inbox/``) holds the newest scheduling message of each event
  delivered to the user (a client may read and delete them); invitations are processed into
  the attendee's calendar at once as well (RFC 6638 allows automatic processing).
- Free/busy (RFC 6638 5.1): a VFREEBUSY REQUEST POSTed to one's own outbox is answered for
  each ATTENDEE that is a user of this server sharing a workspace with the asker (3.7 for
  anyone else: no leak across workspaces), from the occurrence index of all their calendars,
  within ``[limits] max_freebusy_days``.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import icalendar
from radicale import types

from bridge.core.availability import merge
from bridge.core.codec import PRODID
from bridge.core.itip import mail
from bridge.core.limits import LimitExceeded
from bridge.core.scheduling import schedule_tag
from bridge.core.times import as_utc, time_value
from bridge.occurrences import Budget
from bridge.service.listing import busy_and_free
from bridge.service.scheduling import INBOX, Scheduler
from bridge.store.accounts import Accounts, User
from bridge.store.store import CalendarStore
from radicale_plugin.app.multistatus import MultistatusWriter, move_found
from radicale_plugin.internals import (
    GetPart,
    PostPart,
    PropfindPart,
    PutPart,
    read_raw_body,
    rewind_body,
)

_D = "{DAV:}"
_C = "{urn:ietf:params:xml:ns:caldav}"
OUTBOX = "outbox"
SCHEDULING_PROPS = (f"{_C}calendar-user-address-set", f"{_C}schedule-outbox-URL",
                    f"{_C}schedule-inbox-URL", f"{_C}schedule-default-calendar-URL")
BOX_TYPES = {INBOX: f"{_C}schedule-inbox", OUTBOX: f"{_C}schedule-outbox"}
MAX_REQUEST_BYTES = 256 * 1024


def _response(root: ET.Element, href: str, names: list[str],
              known: dict[str, ET.Element]) -> None:
    """One response of a multistatus: the known properties found, the others not."""
    response = ET.SubElement(root, f"{_D}response")
    response.append(_href(href))
    for found, status in ((True, "200 OK"), (False, "404 Not Found")):
        chosen = [n for n in names if (n in known) == found]
        if chosen:
            propstat = ET.SubElement(response, f"{_D}propstat")
            element = ET.SubElement(propstat, f"{_D}prop")
            element.extend(known[n] if found else ET.Element(n) for n in chosen)
            ET.SubElement(propstat, f"{_D}status").text = f"HTTP/1.1 {status}"


def _href(text: str) -> ET.Element:
    element = ET.Element(f"{_D}href")
    element.text = text
    return element


class ApplicationPartScheduling(GetPart, PropfindPart, PostPart, PutPart):
    calendar_store: CalendarStore
    scheduler: Scheduler
    def do_PROPFIND(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                    user_groups: set, request_info: dict) -> types.WSGIResponse:
        body = read_raw_body(self, environ)
        rewind_body(environ, body)
        box = path.strip("/").split("/")
        if user and len(box) == 2 and box[0] == user and box[1] in BOX_TYPES:
            return self._box(body, base_prefix, path, box[1], environ.get("HTTP_DEPTH", "0"),
                             request_info)
        answer = super().do_PROPFIND(environ, base_prefix, path, user, user_groups,
                                     request_info)
        status, headers, content, logged = answer
        if not user or path.strip("/") != user or status != 207 or \
                not isinstance(content, bytes) or not any(
                    p.rsplit("}", 1)[1].encode() in body for p in SCHEDULING_PROPS):
            return answer
        account = Accounts(self.calendar_store).get_user(user)
        if account is None:
            return answer
        root = ET.fromstring(content)
        for response in root.findall(f"{_D}response"):
            self._principal_props(response, base_prefix, account)
        writer = MultistatusWriter(self.encoding)
        for response in root:
            writer.element(response)
        return status, headers, writer.to_bytes(), logged

    def _principal_props(self, response: ET.Element, base_prefix: str, account: User) -> None:
        for element in response.iter(f"{_C}calendar-user-address-set"):
            element.insert(0, _href(f"mailto:{account.email}"))  # first: clients take it
        values = {}
        for name, box in ((f"{_C}schedule-outbox-URL", OUTBOX), (f"{_C}schedule-inbox-URL", INBOX)):
            values[name] = ET.Element(name)
            values[name].append(_href(f"{base_prefix}/{account.username}/{box}/"))
        default = self.scheduler.default_calendar_of(account.username)
        if default is not None:
            element = ET.Element(f"{_C}schedule-default-calendar-URL")
            element.append(_href(f"{base_prefix}/{default.path}/"))
            values[element.tag] = element
        move_found(response, values)

    def _box(self, body: bytes, base_prefix: str, path: str, box: str, depth: str,
             request_info: dict) -> types.WSGIResponse:
        """The schedule inbox (the newest message per event) or outbox (empty: it only takes
        free/busy POSTs)."""
        try:
            asked = ET.fromstring(body) if body else None
        except ET.ParseError:
            return self.webdav_error(400, "D:propfind-finite-depth", request_info)
        prop = asked.find(f"{_D}prop") if asked is not None else None
        names = [p.tag for p in prop] if prop is not None else [f"{_D}resourcetype",
                                                                  f"{_D}displayname"]
        known: dict[str, ET.Element] = {}
        kind = ET.Element(f"{_D}resourcetype")
        ET.SubElement(kind, f"{_D}collection")
        ET.SubElement(kind, BOX_TYPES[box])
        known[kind.tag] = kind
        title = ET.Element(f"{_D}displayname")
        title.text = box.title()
        known[title.tag] = title
        root = ET.Element(f"{_D}multistatus")
        _response(root, f"{base_prefix}/{path.strip('/')}/", names, known)
        inbox = self.scheduler.inbox_of(path.strip("/").split("/")[0]) if box == INBOX \
            else None
        if inbox is not None and depth != "0":
            for href, etag, _, _ in self.calendar_store.object_summaries(inbox.id):
                tag = ET.Element(f"{_D}getetag")
                tag.text = etag
                kind = ET.Element(f"{_D}getcontenttype")
                kind.text = "text/calendar; charset=utf-8"
                _response(root, f"{base_prefix}/{inbox.path}/{href}", names,
                          {f"{_D}getetag": tag, f"{_D}getcontenttype": kind,
                           f"{_D}resourcetype": ET.Element(f"{_D}resourcetype")})
        return 207, {"Content-Type": "text/xml; charset=utf-8"}, \
            self.xml_answer(root, request_info), None

    def do_GET(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
               user_groups: set, request_info: dict) -> types.WSGIResponse:
        status, headers, body, logged = super().do_GET(environ, base_prefix, path, user,
                                                       user_groups, request_info)
        stored = self._stored_text(path) if status == 200 else None
        tag = schedule_tag(stored) if stored is not None else None
        if tag is not None:
            headers = {**dict(headers), "Schedule-Tag": tag}
        return status, headers, body, logged

    def do_PUT(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
               user_groups: set, request_info: dict) -> types.WSGIResponse:
        wanted = environ.get("HTTP_IF_SCHEDULE_TAG_MATCH")
        if wanted is not None:
            # RFC 6638 3.2.10: the client's copy must still be the organizer's current one.
            stored = self._stored_text(path)
            if stored is None or schedule_tag(stored) != wanted.strip():
                return self.webdav_error(412, "C:schedule-tag-mismatch", request_info)
        status, headers, body, logged = super().do_PUT(environ, base_prefix, path, user,
                                                       user_groups, request_info)
        stored = self._stored_text(path) if status in (201, 204) else None
        tag = schedule_tag(stored) if stored is not None else None
        if tag is not None:
            headers = {**dict(headers), "Schedule-Tag": tag}
        return status, headers, body, logged

    def _stored_text(self, path: str) -> str | None:
        """The stored text of the calendar object at ``path``, if it is one."""
        parts = [p for p in path.split("/") if p]
        if len(parts) != 3:
            return None
        calendar = self.calendar_store.get_collection("/".join(parts[:2]))
        if calendar is None or calendar.tag != "VCALENDAR":
            return None
        found = self.calendar_store.get_objects(calendar.id, [parts[2]])
        return found[0].text if found else None

    def do_POST(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                user_groups: set, request_info: dict) -> types.WSGIResponse:
        if not user or path.strip("/") != f"{user}/{OUTBOX}":
            return super().do_POST(environ, base_prefix, path, user, user_groups, request_info)
        body = read_raw_body(self, environ)
        if len(body) > MAX_REQUEST_BYTES:
            return 413, {"Content-Type": "text/plain"}, "Request too large.\n", None
        try:
            request = icalendar.Calendar.from_ical(body.decode("utf-8"))
            query = request.walk("VFREEBUSY")[0]
            start, end = as_utc(time_value(query, "DTSTART")), as_utc(time_value(query, "DTEND"))
            recipients = query.get("ATTENDEE")
        except (ValueError, IndexError, KeyError, UnicodeDecodeError):
            return self.webdav_error(400, "C:valid-calendar-data", request_info)
        if str(request.get("METHOD", "")).upper() != "REQUEST" or not recipients:
            return self.webdav_error(400, "C:valid-scheduling-message", request_info)
        days = int(self.calendar_store.limits.max_freebusy_days)
        if not start < end or end - start > dt.timedelta(days=days):
            return self.webdav_error(403, "C:max-date-time", request_info)
        asker = Accounts(self.calendar_store).get_user(user)
        assert asker is not None
        root = ET.Element(f"{_C}schedule-response")
        for recipient in recipients if isinstance(recipients, list) else [recipients]:
            root.append(self._freebusy(asker, mail(recipient), query, start, end))
        return 200, {"Content-Type": "application/xml; charset=utf-8"}, \
            self.xml_answer(root, request_info), None

    def _freebusy(self, asker: User, address: str, query: icalendar.cal.Component,
                  start: dt.datetime, end: dt.datetime) -> ET.Element:
        response = ET.Element(f"{_C}response")
        recipient = ET.SubElement(response, f"{_C}recipient")
        recipient.append(_href(f"mailto:{address}"))
        accounts = Accounts(self.calendar_store)
        user = accounts.get_user_by_email(address)
        if user is None or not set(accounts.memberships(user.id)) & \
                set(accounts.memberships(asker.id)) and user.id != asker.id:
            ET.SubElement(response, f"{_C}request-status").text = "3.7;Invalid calendar user"
            return response
        store = self.calendar_store
        budget = Budget(store.limits.max_instances_per_request)
        busy = []
        try:
            for calendar in self.scheduler.calendars_of(user.username):
                busy += busy_and_free(store, calendar, start, end, budget)[0]
        except LimitExceeded:
            ET.SubElement(response, f"{_C}request-status").text = "5.3;No scheduling support"
            return response
        ET.SubElement(response, f"{_C}request-status").text = "2.0;Success"
        reply = icalendar.Calendar()
        reply.add("VERSION", "2.0")
        reply.add("PRODID", PRODID)
        reply.add("METHOD", "REPLY")
        answer = icalendar.FreeBusy()
        answer.add("UID", str(query.get("UID", "")) or f"freebusy-{user.username}")
        answer.add("DTSTAMP", dt.datetime.now(dt.UTC))
        answer.add("DTSTART", start)
        answer.add("DTEND", end)
        if "ORGANIZER" in query:
            answer.add("ORGANIZER", query["ORGANIZER"])
        answer.add("ATTENDEE", f"mailto:{user.email}")
        for period in merge(busy):
            answer.add("FREEBUSY", [period], parameters={"FBTYPE": "BUSY"})
        reply.add_component(answer)
        ET.SubElement(response, f"{_C}calendar-data").text = reply.to_ical().decode("utf-8")
        return response
