"""WebDAV-Push (draft-bitfire-webdav-push) over Web Push: the server's VAPID key, each
calendar's topic, the push-register body, and the encrypted, signed message.

Decisions:
- One VAPID key pair (RFC 8292) per server, made on first use and kept in the store, so every
  process and every restart signs with the same key (clients pin it with their subscription).
- A calendar's topic is derived from the key and the calendar's id (an HMAC): stable, opaque,
  and unguessable without the key; nothing to store.
- Messages are encrypted as RFC 8291 (aes128gcm) and signed by pywebpush/py_vapid; the body is
  the draft's ``push-message`` with the topic and the calendar's sync-token (content-update),
  or an empty property-update; Web Push's ``Topic`` header lets the push service replace a
  message still undelivered by the next one.
- Registration is lenient where DAVx5 has been: a missing ``content-encoding`` means aes128gcm,
  a missing ``trigger`` means content-update. Expiry: what the client asks for, within
  ``push.max_expiry_days``; ``push.default_expiry_days`` when it asks nothing.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import hmac
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import requests
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid

from bridge.notify.targets import TargetPolicy, TargetRefused
from bridge.store.notify import PushSubscription, ServerSecrets

NS = "https://bitfire.at/webdav-push"
P = f"{{{NS}}}"
D = "{DAV:}"
VAPID_SECRET = "vapid-private-key"
MAX_FIELD_LENGTH = 255


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushKeys:
    """The server's VAPID key pair and the topics derived from it."""

    def __init__(self, secrets: ServerSecrets, subject: str) -> None:
        pem = secrets.get_or_create(VAPID_SECRET, _new_private_pem)
        self.vapid = Vapid.from_pem(pem.encode("ascii"))
        self.subject = subject
        self.public_key = b64url(self.vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
        self._topic_key = hashlib.sha256(pem.encode("ascii")).digest()

    def topic(self, collection_id: int) -> str:
        digest = hmac.new(self._topic_key, f"topic:{collection_id}".encode(), "sha256").digest()
        return b64url(digest[:16])  # 22 characters: within Web Push's 32 for Topic


def _new_private_pem() -> str:
    vapid = Vapid()
    vapid.generate_keys()
    return str(vapid.private_pem().decode("ascii"))


# --- registration ---------------------------------------------------------------------------

class InvalidRegistration(ValueError):
    """A push-register body the server refuses; ``condition`` is the draft's element."""

    def __init__(self, message: str, condition: str = "invalid-subscription") -> None:
        super().__init__(message)
        self.condition = condition


@dataclass(frozen=True)
class Registration:
    push_resource: str
    p256dh: str
    auth_secret: str
    content_update: bool
    property_update: bool
    expires_at: int


def _text(parent: ET.Element, tag: str) -> str:
    element = parent.find(tag)
    return (element.text or "").strip() if element is not None else ""


def parse_registration(root: ET.Element, now: int, default_seconds: int, max_seconds: int,
                       targets: TargetPolicy) -> Registration:
    subscription = root.find(f"{P}subscription")
    web_push = subscription.find(f"{P}web-push-subscription") \
        if subscription is not None else None
    if web_push is None:
        raise InvalidRegistration("only web-push subscriptions are supported")
    resource = _text(web_push, f"{P}push-resource")
    if not resource:
        raise InvalidRegistration("missing push-resource")
    try:
        targets.check(resource)
    except TargetRefused as exc:
        raise InvalidRegistration(f"push-resource refused: {exc}") from exc
    encoding = _text(web_push, f"{P}content-encoding") or "aes128gcm"
    if encoding != "aes128gcm":
        raise InvalidRegistration(f"content-encoding {encoding!r} is not supported")
    key = web_push.find(f"{P}subscription-public-key")
    if key is not None and key.get("type", "p256dh") != "p256dh":
        raise InvalidRegistration("subscription-public-key must be of type p256dh")
    p256dh, auth = _text(web_push, f"{P}subscription-public-key"), \
        _text(web_push, f"{P}auth-secret")
    try:
        if len(b64url_decode(p256dh)) != 65 or len(b64url_decode(auth)) != 16:
            raise InvalidRegistration("subscription-public-key must be an uncompressed P-256 "
                                      "point and auth-secret 16 bytes, base64url")
    except (binascii.Error, ValueError) as exc:
        if isinstance(exc, InvalidRegistration):
            raise
        raise InvalidRegistration("subscription-public-key and auth-secret must be "
                                  "base64url") from exc
    content, properties = _triggers(root)
    return Registration(resource, p256dh, auth, content, properties,
                        _expiry(_text(root, f"{P}expires"), now, default_seconds, max_seconds))


def _triggers(root: ET.Element) -> tuple[bool, bool]:
    trigger = root.find(f"{P}trigger")
    if trigger is None:
        return True, False  # DAVx5 4.5.19 registered without one
    content = trigger.find(f"{P}content-update") is not None
    properties = trigger.find(f"{P}property-update") is not None
    if not (content or properties):
        raise InvalidRegistration("no supported trigger (content-update, property-update)",
                                  "no-supported-trigger")
    return content, properties


def _expiry(text: str, now: int, default_seconds: int, max_seconds: int) -> int:
    if not text:
        return now + default_seconds
    try:
        asked = int(email.utils.parsedate_to_datetime(text).timestamp())
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidRegistration(f"expires is not an HTTP date: {text[:80]!r}") from exc
    if asked <= now:
        raise InvalidRegistration("expires is in the past")
    return min(asked, now + max_seconds)


# --- properties and messages ----------------------------------------------------------------

def transports_element(keys: PushKeys) -> ET.Element:
    element = ET.Element(f"{P}transports")
    web_push = ET.SubElement(element, f"{P}web-push")
    vapid = ET.SubElement(web_push, f"{P}vapid-public-key", {"type": "p256ecdsa"})
    vapid.text = keys.public_key
    return element


def topic_element(keys: PushKeys, collection_id: int) -> ET.Element:
    element = ET.Element(f"{P}topic")
    element.text = keys.topic(collection_id)
    return element


def supported_triggers_element() -> ET.Element:
    element = ET.Element(f"{P}supported-triggers")
    content = ET.SubElement(element, f"{P}content-update")
    ET.SubElement(content, f"{D}depth").text = "1"
    properties = ET.SubElement(element, f"{P}property-update")
    ET.SubElement(properties, f"{D}depth").text = "0"
    return element


def push_message(topic: str, sync_token: str | None, properties_changed: bool) -> bytes:
    root = ET.Element(f"{P}push-message")
    ET.SubElement(root, f"{P}topic").text = topic
    if sync_token is not None:
        content = ET.SubElement(root, f"{P}content-update")
        ET.SubElement(content, f"{D}sync-token").text = sync_token
    if properties_changed:
        ET.SubElement(root, f"{P}property-update")
    ET.register_namespace("P", NS)
    ET.register_namespace("D", "DAV:")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# --- sending ----------------------------------------------------------------------------------

class Gone(Exception):
    """The push service no longer knows the subscription (404 or 410): remove it."""


def send(keys: PushKeys, subscription: PushSubscription, topic: str, body: bytes,
         targets: TargetPolicy, ttl: int, timeout: float) -> int:
    """Encrypt, sign and POST ``body``; the push service's status. Raises ``Gone`` for a
    subscription the service has dropped, ``TargetRefused`` for one the server must not reach,
    ``requests.RequestException`` when the service cannot be reached."""
    from pywebpush import WebPushException, webpush  # its import pulls in aiohttp: on use

    targets.check(subscription.push_resource)
    session = requests.Session()
    session.max_redirects = 0  # a redirect must not lead the server elsewhere
    try:
        answer = webpush(
            subscription_info={"endpoint": subscription.push_resource,
                               "keys": {"p256dh": subscription.p256dh,
                                        "auth": subscription.auth_secret}},
            data=body, vapid_private_key=keys.vapid,  # type: ignore[arg-type]
            vapid_claims={"sub": keys.subject}, content_encoding="aes128gcm", ttl=ttl,
            timeout=timeout, headers={"Topic": topic, "Urgency": "normal",
                                      "Content-Type": "application/xml; charset=utf-8"},
            requests_session=session)
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status in (404, 410):
            raise Gone(subscription.id) from exc
        return int(status)
    finally:
        session.close()
    return int(getattr(answer, "status_code", 0))
