"""A shared calendar in its recipient's home (``/<user>/shared-<id>/``): PROPPATCH and DELETE.

Decisions:
- PROPPATCH there sets the recipient's own display name, colour and order
  (``bridge.store.shares.OVERRIDABLE``), whatever the share's level: clients write a colour
  when they first see a calendar, read-only ones included. Radicale's own handler needs write
  access for any PROPPATCH, so this one answers first. Any other property is 403 (the owner's
  properties are changed by the owner, at the owner's path).
- DELETE of it (what a client does when its user removes the calendar) hides it from that
  home: the share stays, the owner's calendar is untouched, and the owner or the REST API can
  show it again. Radicale would have needed write access and then deleted the calendar.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from http import client

import defusedxml.ElementTree as DefusedET
from radicale import pathutils, types
from radicale.log import logger

from bridge.store.shares import alias_calendar_id
from radicale_plugin.internals import (
    BAD_REQUEST,
    NOT_ALLOWED,
    RADICALE_DAV_CLASSES,
    Access,
    DeletePart,
    PropertyWritePart,
    proppatch_answer,
    read_raw_body,
)
from radicale_plugin.storage import Collection, Refused, Storage


def alias_path(path: str, user: str) -> str | None:
    """The path, if it names a shared calendar in ``user``'s own home."""
    parts = [p for p in pathutils.strip_path(path).split("/") if p]
    if len(parts) == 2 and parts[0] == user and alias_calendar_id(parts[1]) is not None:
        return "/".join(parts)
    return None


class ApplicationPartSharedCalendar(DeletePart, PropertyWritePart):
    def _alias(self, path: str, user: str, user_groups: set) -> str | None:
        sane = alias_path(path, user)
        if sane is None or not isinstance(self.storage, Storage):
            return None
        return sane if Access(self.rights, user, user_groups, path).permissions else None

    def do_PROPPATCH(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                     user_groups: set, request_info: dict) -> types.WSGIResponse:
        sane = self._alias(path, user, user_groups)
        if sane is None:
            return super().do_PROPPATCH(environ, base_prefix, path, user, user_groups,
                                        request_info)
        try:
            body = read_raw_body(self, environ)
            request = DefusedET.fromstring(body) if body else None
        except (ET.ParseError, RuntimeError, ValueError) as exc:
            logger.info("bad PROPPATCH of %r: %s", path, exc)
            return BAD_REQUEST
        except TimeoutError:
            return client.REQUEST_TIMEOUT, {}, None, None
        storage = self.storage
        assert isinstance(storage, Storage)
        with storage.acquire_lock("w", user, path=path):
            collection = storage.collection_at(sane)
            if not isinstance(collection, Collection):
                return NOT_ALLOWED
            try:
                answer = proppatch_answer(base_prefix, path, request, collection)
            except Refused as exc:
                logger.info("PROPPATCH of %r refused: %s", path, exc)
                return NOT_ALLOWED
        headers = {"DAV": RADICALE_DAV_CLASSES,
                   "Content-Type": f"text/xml; charset={self.encoding}"}
        return client.MULTI_STATUS, headers, self.xml_answer(answer, request_info), None

    def do_DELETE(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                  user_groups: set, request_info: dict) -> types.WSGIResponse:
        sane = self._alias(path, user, user_groups)
        if sane is None:
            return super().do_DELETE(environ, base_prefix, path, user, user_groups,
                                     request_info)
        storage = self.storage
        assert isinstance(storage, Storage)
        with storage.acquire_lock("w", user, path=path):
            collection = storage.collection_at(sane)
            if not isinstance(collection, Collection):
                return NOT_ALLOWED
            collection.delete()  # hides the alias (Collection.delete of a shared calendar)
        return client.NO_CONTENT, {}, None, None
