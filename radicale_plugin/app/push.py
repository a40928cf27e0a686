"""WebDAV-Push on the CalDAV door (draft-bitfire-webdav-push): the ``webdav-push`` class,
the ``transports``, ``topic`` and ``supported-triggers`` properties of each calendar,
``POST`` of ``push-register`` to subscribe, ``DELETE`` of the registration URL to unsubscribe,
and the ``Push-Dont-Notify`` header of any write.

Decisions:
- Registration URLs are ``/.push-subscriptions/<id>``, outside every user's tree, with a random
  id; only the user who registered may delete one.
- Registering needs read access to the calendar (the same rights check as a PROPFIND, so a
  token limited to other calendars is refused); it is answered 201 (new) or 204 (the same push
  resource registered again: updated), with ``Location`` and ``Expires``.
- Refusals are the draft's 403 preconditions: ``invalid-subscription``,
  ``no-supported-trigger``, ``push-not-available`` (not a calendar).
- The properties are added to Radicale's own PROPFIND answer (which lists them as not found)
  only when the request names the push namespace, so other PROPFINDs pay nothing.
"""

from __future__ import annotations

import email.utils
import io
import urllib.parse
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as DefusedET
from radicale import types

from bridge.core.times import now_ts
from bridge.notify import push
from bridge.notify.service import PushService
from radicale_plugin.app.multistatus import MultistatusWriter, move_found
from radicale_plugin.internals import (
    Access,
    DeletePart,
    PostPart,
    PropfindPart,
    read_raw_body,
    rewind_body,
)
from radicale_plugin.storage import Collection

SUBSCRIPTIONS = "/.push-subscriptions/"
MAX_REGISTER_BYTES = 64 * 1024
_D = "{DAV:}"
PUSH_PROPS = {f"{push.P}transports", f"{push.P}topic", f"{push.P}supported-triggers"}


def dont_notify(header: str | None) -> tuple[str, ...] | None:
    """The registration ids a Push-Dont-Notify header names ("*": all)."""
    if not header:
        return None
    if header.strip() == "*":
        return ("*",)
    ids = [part.strip().strip('"').rstrip("/").rsplit("/", 1)[-1]
           for part in header.split(",")]
    return tuple(i for i in ids if i) or None


class ApplicationPartPush(DeletePart, PropfindPart, PostPart):
    pushes: PushService

    def do_POST(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                user_groups: set, request_info: dict) -> types.WSGIResponse:
        body = read_raw_body(self, environ)
        root = _push_register(body)
        if root is None:
            rewind_body(environ, body)
            return super().do_POST(environ, base_prefix, path, user, user_groups, request_info)
        if "r" not in Access(self.rights, user, user_groups, path).permissions:
            return self.refusal(403, "push-not-available", "no access to this collection")
        collection = self._calendar(path, user)
        if collection is None:
            return self.refusal(403, "push-not-available", "push is offered on calendars only")
        settings = self.pushes.settings
        now = now_ts()
        try:
            registration = push.parse_registration(
                root, now, settings.default_expiry_seconds, settings.max_expiry_seconds,
                settings.targets)
        except push.InvalidRegistration as exc:
            return self.refusal(403, exc.condition, str(exc))
        subscription, created = self.pushes.subscriptions.register(
            collection.record.path, collection.record.id, user, registration.push_resource,
            registration.p256dh, registration.auth_secret, registration.content_update,
            registration.property_update, registration.expires_at)
        headers = {"Location": f"{base_prefix}{SUBSCRIPTIONS}{subscription.id}",
                   "Expires": email.utils.formatdate(subscription.expires_at, usegmt=True)}
        return (201 if created else 204), headers, None, None

    def do_DELETE(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                  user_groups: set, request_info: dict) -> types.WSGIResponse:
        if not path.startswith(SUBSCRIPTIONS):
            return super().do_DELETE(environ, base_prefix, path, user, user_groups,
                                     request_info)
        subscription = self.pushes.subscriptions.get(path[len(SUBSCRIPTIONS):].strip("/"))
        if subscription is None or subscription.username != user:
            return 404, {"Content-Type": "text/plain"}, "No such subscription.\n", None
        self.pushes.subscriptions.remove(subscription.id)
        return 204, {}, None, None

    def do_PROPFIND(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                    user_groups: set, request_info: dict) -> types.WSGIResponse:
        body = read_raw_body(self, environ)
        rewind_body(environ, body)
        answer = super().do_PROPFIND(environ, base_prefix, path, user, user_groups,
                                     request_info)
        if push.NS.encode() not in body:
            return answer
        status, headers, content, logged = answer
        completed = self._with_push_props(status, content, base_prefix, user)
        return (status, headers, completed, logged) if completed is not None else answer

    def _with_push_props(self, status: int, content: object, base_prefix: str, user: str
                         ) -> bytes | None:
        """Radicale's multistatus with the push properties of each calendar in it found."""
        if status != 207 or not isinstance(content, bytes):
            return None
        root = DefusedET.fromstring(content)
        for response in root.findall(f"{_D}response"):
            href = urllib.parse.unquote(response.findtext(f"{_D}href") or "")
            path = href[len(base_prefix):] if href.startswith(base_prefix) else href
            collection = self._calendar(path, user)
            if collection is not None:
                move_found(response, self._values(collection.record.id))
        writer = MultistatusWriter(self.encoding)
        for response in root:
            writer.element(response)
        return writer.to_bytes()

    def _values(self, collection_id: int) -> dict[str, ET.Element]:
        keys = self.pushes.keys
        return {f"{push.P}transports": push.transports_element(keys),
                f"{push.P}topic": push.topic_element(keys, collection_id),
                f"{push.P}supported-triggers": push.supported_triggers_element()}

    def _calendar(self, path: str, user: str) -> Collection | None:
        with self.storage.acquire_lock("r", user):
            found = next(iter(self.storage.discover(path)), None)
        if not isinstance(found, Collection) or found.tag != "VCALENDAR":
            return None
        return found

    def refusal(self, status: int, condition: str, reason: str) -> types.WSGIResponse:
        error = ET.Element(f"{_D}error")
        ET.SubElement(error, f"{push.P}{condition}")
        ET.SubElement(error, f"{push.P}reason").text = reason  # not in the draft: for people
        out = io.BytesIO()
        ET.ElementTree(error).write(out, encoding="utf-8", xml_declaration=True)
        return status, {"Content-Type": "application/xml; charset=utf-8"}, out.getvalue(), None


def _push_register(body: bytes) -> ET.Element | None:
    if not body or len(body) > MAX_REGISTER_BYTES or push.NS.encode() not in body:
        return None
    try:
        root = DefusedET.fromstring(body)
    except (ET.ParseError, ValueError):
        return None
    return root if root.tag == f"{push.P}push-register" else None
