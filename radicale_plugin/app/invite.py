"""Apple's sharing extension on the CalDAV door (CalendarServer's caldav-sharing, as Apple
Calendar, sabre/dav and Nextcloud speak it), over calbridge's shares.

Supported:
- ``POST`` of ``CS:share`` to a calendar (``CS:set`` with ``D:href`` ``mailto:`` or a principal
  URL, ``CS:common-name``, ``CS:summary``, ``CS:read`` or ``CS:read-write``; ``CS:remove``), and
  the same through the newer ``D:share-resource`` (draft-pot-webdav-resource-sharing:
  ``D:sharee`` with ``D:share-access`` ``D:read``, ``D:read-write`` or ``D:no-access``). Only
  the owner and workspace admins share; sharees must be members of the calendar's workspace.
  The whole request is checked before anything changes: 403 ``CB:not-a-member`` for a sharee
  who is not one (removing someone unknown is no error), 403 ``D:need-privileges`` for
  someone who may not share, 400 for a body that is neither. Success is 200 with no body
  (as CalendarServer and sabre answer).
- ``CS:invite`` on a calendar: the owner (``CS:organizer``) and each user share (``CS:user``
  with ``D:href`` mailto, ``CS:common-name``, ``CS:invite-accepted`` / ``-noresponse`` /
  ``-declined``, ``CS:access``). ``CS:allowed-sharing-modes`` (``CS:can-be-shared``) on
  calendars the user may share; ``CS:shared-url`` (the owner's URL) on a shared calendar in a
  recipient's home; ``D:resourcetype`` gains ``CS:shared-owner`` / ``CS:shared`` there.
- ``POST`` of ``CS:invite-reply`` (``CS:hosturl`` naming the owner's calendar,
  ``CS:invite-accepted`` or ``CS:invite-declined``) to the recipient's home: declining takes it
  out of their home (and out of their reach); accepting brings it back. Answered 200 with
  ``CS:shared-as`` naming the recipient's path.

Not supported (calbridge's model): invitations are accepted at once, as a REST share is, so
the recipient finds the calendar at their next refresh without a notification. There is no
``CS:notification-URL`` collection, no publishing (``CS:can-be-published``), no sharing with
people outside the calendar's workspace (no e-mail invitations), and free/busy and workspace
shares (made over REST) are not listed in ``CS:invite``, which has no way to say either.
"""

from __future__ import annotations

import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from http import client

import defusedxml.ElementTree as DefusedET
from radicale import pathutils, types
from radicale.log import logger

from bridge.store.access import current_policy
from bridge.store.accounts import Accounts, User
from bridge.store.records import NotFound
from bridge.store.shares import Share, alias_name
from radicale_plugin.app.multistatus import MultistatusWriter, move_found
from radicale_plugin.app.props import CALBRIDGE_NS
from radicale_plugin.internals import (
    BAD_REQUEST,
    PostPart,
    PropfindPart,
    read_raw_body,
    rewind_body,
)
from radicale_plugin.storage import Collection, Storage

CS = "http://calendarserver.org/ns/"
_C = f"{{{CS}}}"
_D = "{DAV:}"
MAX_SHARE_BYTES = 64 * 1024
MAX_SHAREES = 100
INVITE, MODES, SHARED_URL = f"{_C}invite", f"{_C}allowed-sharing-modes", f"{_C}shared-url"
STATUS = {"accepted": "invite-accepted", "pending": "invite-noresponse",
          "declined": "invite-declined"}


@dataclass(frozen=True)
class ShareChange:
    href: str
    level: str | None     # None: remove
    summary: str = ""


def parse_share_request(root: ET.Element) -> list[ShareChange]:
    """The changes a ``CS:share`` or ``D:share-resource`` body asks for (ValueError if it is
    neither, or names no sharee)."""
    changes: list[ShareChange] = []
    if root.tag == f"{_C}share":
        for child in root:
            href = (child.findtext(f"{_D}href") or "").strip()
            if child.tag == f"{_C}set":
                wanted = "read-write" if child.find(f"{_C}read-write") is not None else "read"
                changes.append(ShareChange(href, wanted, child.findtext(f"{_C}summary") or ""))
            elif child.tag == f"{_C}remove":
                changes.append(ShareChange(href, None))
            else:
                raise ValueError(f"unexpected {child.tag} in CS:share")
    elif root.tag == f"{_D}share-resource":
        for sharee in root.findall(f"{_D}sharee"):
            href = (sharee.findtext(f"{_D}href") or "").strip()
            access = sharee.find(f"{_D}share-access")
            tags = [c.tag for c in access] if access is not None else []
            if tags == [f"{_D}read"]:
                level: str | None = "read"
            elif tags == [f"{_D}read-write"]:
                level = "read-write"
            elif tags == [f"{_D}no-access"]:
                level = None
            else:
                raise ValueError("D:share-access is one of D:read, D:read-write, D:no-access")
            changes.append(ShareChange(href, level, sharee.findtext(f"{_D}comment") or ""))
    else:
        raise ValueError("not a sharing request")
    if not changes or len(changes) > MAX_SHAREES or any(not c.href for c in changes):
        raise ValueError(f"a sharing request names 1 to {MAX_SHAREES} sharees, each by href")
    return changes


def _element(tag: str, text: str | None = None, *children: ET.Element) -> ET.Element:
    element = ET.Element(tag)
    element.text = text
    element.extend(children)
    return element


def _href(path: str) -> ET.Element:
    return _element(f"{_D}href", urllib.parse.quote(path))


class ApplicationPartCalendarServerSharing(PropfindPart, PostPart):
    # -- POST: share, unshare, answer ------------------------------------------------------------

    def do_POST(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                user_groups: set, request_info: dict) -> types.WSGIResponse:
        body = read_raw_body(self, environ)
        root = _sharing_body(body)
        storage = self.storage
        if root is None or not isinstance(storage, Storage) or not user:
            rewind_body(environ, body)
            return super().do_POST(environ, base_prefix, path, user, user_groups, request_info)
        if root.tag == f"{_C}invite-reply":
            return self._reply(storage, root, base_prefix, user)
        try:
            changes = parse_share_request(root)
        except ValueError as exc:
            logger.info("bad sharing request on %r: %s", path, exc)
            return BAD_REQUEST
        with storage.acquire_lock("w", user, path=path):
            collection = storage.collection_at(pathutils.strip_path(path))
            policy = current_policy.get()
            if collection is None or collection.grant is not None or \
                    collection.tag != "VCALENDAR" or policy is None or \
                    not policy.may_share(collection.record):
                return self.webdav_error(client.FORBIDDEN, "D:need-privileges", request_info)
            accounts = Accounts(storage.store.db)
            members = accounts.members(collection.record.workspace_id or 0)
            sharees: list[tuple[User, ShareChange]] = []
            for change in changes:
                sharee = _sharee(accounts, change.href, base_prefix)
                if change.level is None and sharee is None:
                    continue  # nobody to remove
                if sharee is None or sharee.username not in members or \
                        sharee.username == collection.record.owner:
                    logger.info("sharing %r with %r refused: not a member", path, change.href)
                    return self.webdav_error(client.FORBIDDEN,
                                             f"{{{CALBRIDGE_NS}}}not-a-member", request_info)
                sharees.append((sharee, change))
            self._apply(storage, collection, sharees, policy.user.username)
        return client.OK, {}, None, None

    @staticmethod
    def _apply(storage: Storage, collection: Collection,
               sharees: list[tuple[User, ShareChange]], actor: str) -> None:
        shares = storage.store.shares
        existing = {s.user_id: s for s in shares.of_calendar(collection.record.id)}
        for sharee, change in sharees:
            if change.level is None:
                if sharee.id in existing:
                    shares.remove(existing[sharee.id].id)
                continue
            shares.share_with_user(collection.record.id, sharee.id, change.level, actor,
                                   summary=change.summary)

    def _reply(self, storage: Storage, root: ET.Element, base_prefix: str, user: str
               ) -> types.WSGIResponse:
        host = (root.findtext(f"{_C}hosturl/{_D}href") or "").strip()
        accepted = root.find(f"{_C}invite-accepted") is not None
        declined = root.find(f"{_C}invite-declined") is not None
        calendar_path = _local_path(host, base_prefix)
        if accepted == declined or calendar_path is None:
            return BAD_REQUEST
        with storage.acquire_lock("w", user, path=f"/{calendar_path}/"):
            record = storage.store.get_collection(calendar_path)
            user_id = storage.store.shares.user_id(user)
            if record is None or user_id is None:
                return client.NOT_FOUND, {}, None, None
            try:
                storage.store.shares.answer(user_id, record.id, accept=accepted)
            except NotFound:
                return client.NOT_FOUND, {}, None, None
        if not accepted:
            return client.OK, {}, None, None
        shared_as = _element(f"{_C}shared-as", None,
                             _href(f"{base_prefix}/{user}/{alias_name(record.id)}/"))
        return (client.OK, {"Content-Type": f"application/xml; charset={self.encoding}"},
                ET.tostring(shared_as, encoding=self.encoding, xml_declaration=True), None)

    # -- PROPFIND: CS:invite, CS:allowed-sharing-modes, CS:shared-url, resource types -----------

    def do_PROPFIND(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                    user_groups: set, request_info: dict) -> types.WSGIResponse:
        body = read_raw_body(self, environ)
        rewind_body(environ, body)
        answer = super().do_PROPFIND(environ, base_prefix, path, user, user_groups,
                                     request_info)
        asked = CS.encode() in body and any(
            n in body for n in (b"invite", b"allowed-sharing-modes", b"shared-url"))
        depth = environ.get("HTTP_DEPTH", "0")
        segments = len([p for p in path.split("/") if p])
        # Resource types are marked where clients look for shared calendars: a home's
        # listing and one calendar (never an object listing, which may be large).
        typed = b"resourcetype" in body and (segments == 1 or (segments == 2 and depth == "0"))
        status, headers, content, logged = answer
        if not (asked or typed) or status != 207 or not isinstance(content, bytes):
            return answer
        return status, headers, self._with_sharing(content, base_prefix, user), logged

    def _with_sharing(self, content: bytes, base_prefix: str, user: str) -> bytes:
        storage = self.storage
        assert isinstance(storage, Storage)
        root = DefusedET.fromstring(content)
        policy = current_policy.get()
        accounts = Accounts(storage.store.db)
        with storage.acquire_lock("r", user):
            for response in root.findall(f"{_D}response"):
                local = _local_path(response.findtext(f"{_D}href") or "", base_prefix)
                collection = storage.collection_at(local) if local and local.count("/") == 1 \
                    else None
                if collection is None or collection.tag != "VCALENDAR":
                    continue
                record = collection.record
                shares = [s for s in storage.store.shares.of_calendar(record.id)
                          if s.user_id is not None and s.level != "freebusy"]
                values = {INVITE: self._invite(record.owner, shares, accounts, base_prefix)}
                if collection.grant is not None:
                    values[SHARED_URL] = _element(SHARED_URL, None,
                                                  _href(f"{base_prefix}/{record.path}/"))
                elif policy is not None and policy.may_share(record):
                    values[MODES] = _element(MODES, None, ET.Element(f"{_C}can-be-shared"))
                move_found(response, values)
                mark = "shared" if collection.grant is not None else \
                    "shared-owner" if storage.store.shares.of_calendar(record.id) else None
                if mark is not None:
                    for resourcetype in response.iter(f"{_D}resourcetype"):
                        resourcetype.append(ET.Element(f"{_C}{mark}"))
        writer = MultistatusWriter(self.encoding)
        for response in root:
            writer.element(response)
        return writer.to_bytes()

    @staticmethod
    def _invite(owner: str, shares: list[Share], accounts: Accounts, base_prefix: str
                ) -> ET.Element:
        invite = ET.Element(INVITE)
        organizer = accounts.get_user(owner)
        invite.append(_element(f"{_C}organizer", None, _href(f"{base_prefix}/{owner}/"),
                               _element(f"{_C}common-name", owner)))
        if organizer is not None:
            invite[0].append(_element(f"{_C}email", organizer.email))
        for share in shares:
            access = "read-write" if share.level == "read-write" else "read"
            invite.append(_element(
                f"{_C}user", None, _element(f"{_D}href", f"mailto:{share.email}"),
                _element(f"{_C}common-name", share.username),
                ET.Element(f"{_C}{STATUS[share.status]}"),
                _element(f"{_C}access", None, ET.Element(f"{_C}{access}")),
                *([_element(f"{_C}summary", share.summary)] if share.summary else [])))
        return invite


def _sharing_body(body: bytes) -> ET.Element | None:
    if not body or len(body) > MAX_SHARE_BYTES or (CS.encode() not in body
                                                   and b"share-resource" not in body):
        return None
    try:
        root = DefusedET.fromstring(body)
    except (ET.ParseError, ValueError):
        return None
    return root if root.tag in (f"{_C}share", f"{_D}share-resource",
                                f"{_C}invite-reply") else None


def _local_path(href: str, base_prefix: str) -> str | None:
    """A collection path ("owner/name") from an href or URL of this server, or None."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(href).path)
    if base_prefix and path.startswith(base_prefix):
        path = path[len(base_prefix):]
    parts = [p for p in path.split("/") if p]
    return "/".join(parts) if parts else None


def _sharee(accounts: Accounts, href: str, base_prefix: str) -> User | None:
    """The user a sharee href names: ``mailto:`` their email, or their principal URL."""
    if href.lower().startswith("mailto:"):
        return accounts.get_user_by_email(urllib.parse.unquote(href[len("mailto:"):]))
    path = _local_path(href, base_prefix)
    if path is None or "/" in path:
        return None
    return accounts.get_user(path)
