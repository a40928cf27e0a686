"""WebDAV-Push with a real push receiver on loopback and a subscription whose keys the test
holds: messages are decrypted with http-ece (RFC 8291) and their VAPID signature names the
key the calendar advertises; the sync-token they carry is the calendar's after the change."""

from __future__ import annotations

import base64
import email.utils
import os
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

import http_ece
import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bridge.notify.targets import TargetPolicy, TargetRefused
from bridge.store.schema_notify import push_subscription
from tests.conftest import PASSWORD, QUIET_AUTH, Server, store_env
from tests.receivers import Receiver

P = "https://bitfire.at/webdav-push"
AUTH = ("alice", PASSWORD)
EVENT = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
         "DTSTAMP:20260101T000000Z\r\nDTSTART:20261210T100000Z\r\nDURATION:PT1H\r\n"
         "SUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscriber:
    """A push subscription's client side: its keys and its path on the receiver."""

    path: str
    key: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def new(cls) -> Subscriber:
        return cls(f"/push/{uuid.uuid4().hex}", ec.generate_private_key(ec.SECP256R1()),
                   os.urandom(16))

    def register_body(self, receiver: Receiver, trigger: bool = True,
                      expires: str | None = None) -> str:
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return (
            f'<?xml version="1.0" encoding="utf-8"?>'
            f'<P:push-register xmlns:D="DAV:" xmlns:P="{P}"><P:subscription>'
            f'<P:web-push-subscription><P:push-resource>{receiver.url(self.path)}'
            f'</P:push-resource>'
            + ('<P:content-encoding>aes128gcm</P:content-encoding>' if trigger else '')
            + f'<P:subscription-public-key type="p256dh">{b64url(public)}'
            f'</P:subscription-public-key><P:auth-secret>{b64url(self.auth)}</P:auth-secret>'
            f'</P:web-push-subscription></P:subscription>'
            + ('<P:trigger><P:content-update><D:depth>1</D:depth></P:content-update>'
               '</P:trigger>' if trigger else '')
            + (f'<P:expires>{expires}</P:expires>' if expires else '')
            + '</P:push-register>')

    def decrypt(self, body: bytes) -> ET.Element:
        return ET.fromstring(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth,
                                              version="aes128gcm"))


@dataclass
class Env:
    server: Server
    receiver: Receiver
    calendar: str

    def register(self, subscriber: Subscriber, **kwargs: object) -> requests.Response:
        return requests.post(self.calendar, auth=AUTH, timeout=30,
                             data=subscriber.register_body(self.receiver, **kwargs),  # type: ignore[arg-type]
                             headers={"Content-Type": "application/xml; charset=utf-8"})

    def put(self, uid: str, headers: dict[str, str] | None = None) -> None:
        answer = requests.put(f"{self.calendar}{uid}.ics", auth=AUTH, timeout=30,
                              data=EVENT.format(uid=uid).encode(), headers=headers or {})
        assert answer.status_code == 201, answer.text

    def sync(self, token: str = "") -> tuple[str, list[str]]:
        body = ('<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">'
                f'<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>'
                '<D:prop><D:getetag/></D:prop></D:sync-collection>')
        answer = requests.request("REPORT", self.calendar, auth=AUTH, data=body, timeout=30)
        assert answer.status_code == 207, answer.text
        root = ET.fromstring(answer.content)
        return (root.findtext("{DAV:}sync-token") or "",
                sorted(h.text or "" for h in root.iter("{DAV:}href")))

    def props(self) -> dict[str, ET.Element]:
        body = (f'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:P="{P}"><D:prop>'
                '<P:transports/><P:topic/><P:supported-triggers/><D:displayname/>'
                '</D:prop></D:propfind>')
        answer = requests.request("PROPFIND", self.calendar, auth=AUTH, data=body, timeout=30,
                                  headers={"Depth": "0"})
        assert answer.status_code == 207, answer.text
        found = {}
        for propstat in ET.fromstring(answer.content).iter("{DAV:}propstat"):
            if propstat.findtext("{DAV:}status") == "HTTP/1.1 200 OK":
                found.update({p.tag: p for p in propstat.find("{DAV:}prop") or []})
        return found


@pytest.fixture(scope="module")
def push_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
                backend: str) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp(f"push-{backend}"), extra_env={
        **QUIET_AUTH, **store_env(request, backend),
        "CALBRIDGE_PUSH_ALLOW_PRIVATE_TARGETS": "true", "CALBRIDGE_PUSH_REQUIRE_HTTPS": "false"})
    srv.start()
    srv.add_user("alice")
    yield srv
    srv.stop()


@pytest.fixture
def env(push_server: Server) -> Iterator[Env]:
    receiver = Receiver().start()
    calendar = f"{push_server.url}/alice/{uuid.uuid4().hex}/"
    assert requests.request("MKCALENDAR", calendar, auth=AUTH, timeout=30).status_code == 201
    yield Env(push_server, receiver, calendar)
    receiver.stop()


def messages(env: Env, subscriber: Subscriber, count: int, timeout: float = 20
             ) -> list[ET.Element]:
    return [subscriber.decrypt(r.body)
            for r in env.receiver.wait_for(subscriber.path, count, timeout)]


def test_calendars_advertise_webdav_push(env: Env) -> None:
    options = requests.options(env.calendar, auth=AUTH, timeout=30)
    assert "webdav-push" in [c.strip() for c in options.headers["DAV"].split(",")]
    props = env.props()
    vapid = props[f"{{{P}}}transports"].find(f"{{{P}}}web-push/{{{P}}}vapid-public-key")
    assert vapid is not None and vapid.get("type") == "p256ecdsa"
    assert len(b64url_decode(vapid.text or "")) == 65  # an uncompressed P-256 point
    assert len(props[f"{{{P}}}topic"].text or "") == 22
    triggers = props[f"{{{P}}}supported-triggers"]
    assert [(t.tag, t.findtext("{DAV:}depth")) for t in triggers] == [
        (f"{{{P}}}content-update", "1"), (f"{{{P}}}property-update", "0")]


def test_a_put_by_another_client_pushes_one_encrypted_signed_message_with_the_new_token(
        env: Env) -> None:
    before, _ = env.sync()
    subscriber = Subscriber.new()
    registered = env.register(subscriber)
    assert registered.status_code == 201, registered.text
    assert registered.headers["Location"].startswith("/.push-subscriptions/")
    expires = email.utils.parsedate_to_datetime(registered.headers["Expires"]).timestamp()
    assert 29 * 86400 < expires - time.time() <= 30 * 86400  # push.default_expiry_days

    env.put("pushed")
    [message] = messages(env, subscriber, 1)
    props = env.props()
    assert message.tag == f"{{{P}}}push-message"
    assert message.findtext(f"{{{P}}}topic") == props[f"{{{P}}}topic"].text
    token = message.findtext(f"{{{P}}}content-update/{{DAV:}}sync-token")
    # The pushed token is the calendar's after the change: from the client's last token,
    # sync-collection answers exactly that change and ends at the pushed token.
    assert env.sync(before) == (token, [env.calendar.removeprefix(env.server.url) + "pushed.ics"])
    assert env.sync(token or "") == (token, [])

    [request] = env.receiver.at(subscriber.path)
    assert request.headers["content-encoding"] == "aes128gcm"
    assert request.headers["topic"] == props[f"{{{P}}}topic"].text
    scheme, _, params = request.headers["authorization"].partition(" ")
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    vapid_key = props[f"{{{P}}}transports"].findtext(f".//{{{P}}}vapid-public-key")
    assert (scheme, fields["k"]) == ("vapid", vapid_key)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                          b64url_decode(vapid_key or ""))
    claims = jwt.decode(fields["t"], public, algorithms=["ES256"],
                        audience=env.receiver.url("").rstrip("/"))
    assert claims["sub"] == "mailto:postmaster@127.0.0.1"


def test_five_changes_in_a_second_are_coalesced(env: Env) -> None:
    subscriber = Subscriber.new()
    assert env.register(subscriber).status_code == 201
    started = time.monotonic()
    for number in range(5):
        env.put(f"burst-{number}")
    assert time.monotonic() - started < 1.0
    time.sleep(2.5)  # two more dispatcher passes (push.interval = 1 s): nothing else comes
    received = messages(env, subscriber, 1)
    assert 1 <= len(received) <= 2  # one pass per second: at most two saw the burst
    final, _ = env.sync()
    assert received[-1].findtext(f"{{{P}}}content-update/{{DAV:}}sync-token") == final


def test_push_dont_notify_spares_the_writers_own_subscription(env: Env) -> None:
    writer, other = Subscriber.new(), Subscriber.new()
    location = env.register(writer).headers["Location"]
    assert env.register(other).status_code == 201
    env.put("quiet", {"Push-Dont-Notify": f'"{env.server.url}{location}"'})
    assert len(messages(env, other, 1)) == 1
    assert env.receiver.at(writer.path) == []
    env.put("everyone-else", {"Push-Dont-Notify": "*"})
    time.sleep(2.5)
    assert (len(env.receiver.at(writer.path)), len(env.receiver.at(other.path))) == (0, 1)


def test_unsubscribed_and_expired_registrations_get_nothing(env: Env) -> None:
    gone, expiring, staying = Subscriber.new(), Subscriber.new(), Subscriber.new()
    location = env.register(gone).headers["Location"]
    soon = email.utils.formatdate(time.time() + 2, usegmt=True)
    assert env.register(expiring, expires=soon).status_code == 201
    assert env.register(staying).status_code == 201
    assert requests.delete(env.server.url + location, auth=AUTH, timeout=30).status_code == 204
    assert requests.delete(env.server.url + location, auth=AUTH, timeout=30).status_code == 404
    time.sleep(3)
    env.put("after")
    assert len(messages(env, staying, 1)) == 1
    time.sleep(1.5)
    assert (env.receiver.at(gone.path), env.receiver.at(expiring.path)) == ([], [])


def test_a_410_from_the_push_service_removes_the_subscription(env: Env) -> None:
    subscriber = Subscriber.new()
    location = env.register(subscriber).headers["Location"]
    before = env.server.count(push_subscription)
    env.receiver.status = 410
    env.put("dead")
    assert len(env.receiver.wait_for(subscriber.path, 1)) == 1
    deadline = time.monotonic() + 10
    while env.server.count(push_subscription) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert env.server.count(push_subscription) == before - 1
    assert requests.delete(env.server.url + location, auth=AUTH, timeout=30).status_code == 404


def test_registration_is_lenient_as_davx5_needs_and_updates_in_place(env: Env) -> None:
    subscriber = Subscriber.new()
    first = env.register(subscriber, trigger=False)  # no trigger, no content-encoding
    assert first.status_code == 201, first.text
    again = env.register(subscriber)
    assert (again.status_code, again.headers["Location"]) == (204, first.headers["Location"])
    env.put("lenient")
    assert len(messages(env, subscriber, 1)) == 1


def test_bad_registrations_are_refused_with_the_drafts_preconditions(env: Env) -> None:
    subscriber = Subscriber.new()
    good = subscriber.register_body(env.receiver)
    cases = {
        "invalid-subscription": [
            good.replace(env.receiver.url(subscriber.path), "ftp://127.0.0.1/x"),
            good.replace("aes128gcm", "aesgcm"),
            good.replace("<P:auth-secret>", "<P:auth-secret>AAAA"),
            subscriber.register_body(env.receiver, expires="Mon, 01 Jan 2001 00:00:00 GMT"),
        ],
        "no-supported-trigger": [good.replace(
            "<P:content-update><D:depth>1</D:depth></P:content-update>",
            "<P:other-update/>")],
    }
    before = env.server.count(push_subscription)
    for condition, bodies in cases.items():
        for body in bodies:
            answer = requests.post(env.calendar, auth=AUTH, data=body, timeout=30)
            assert answer.status_code == 403, body
            assert ET.fromstring(answer.content).find(f"{{{P}}}{condition}") is not None, body
    principal = requests.post(f"{env.server.url}/alice/", auth=AUTH, data=good, timeout=30)
    assert principal.status_code == 403
    assert ET.fromstring(principal.content).find(f"{{{P}}}push-not-available") is not None
    assert env.server.count(push_subscription) == before


def test_push_resources_on_private_networks_are_refused_by_default(
        tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
        backend: str) -> None:
    strict = TargetPolicy()
    for url in ("http://example.com/x", "https://127.0.0.1/x", "https://10.1.2.3/x",
                "https://[::1]/x", "https://169.254.169.254/latest", "https://0.0.0.0/",
                "https://user:pw@93.184.216.34/", "https:///nohost"):
        with pytest.raises(TargetRefused):
            strict.check(url)
    strict.check("https://93.184.216.34/push")  # a public address literal: no DNS needed
    srv = Server(tmp_path_factory.mktemp(f"push-strict-{backend}"),
                 extra_env={**QUIET_AUTH, **store_env(request, backend)})
    srv.start()
    try:
        srv.add_user("alice")
        receiver = Receiver()
        calendar = f"{srv.url}/alice/strict/"
        assert requests.request("MKCALENDAR", calendar, auth=AUTH, timeout=30).status_code == 201
        answer = requests.post(calendar, auth=AUTH, timeout=30,
                               data=Subscriber.new().register_body(receiver))
        assert answer.status_code == 403
        assert ET.fromstring(answer.content).find(f"{{{P}}}invalid-subscription") is not None
        assert srv.count(push_subscription) == 0
    finally:
        srv.stop()


def test_a_token_limited_to_one_calendar_cannot_subscribe_to_another(env: Env) -> None:
    from tests.api_helpers import Api, cli_json, make_token

    ws = cli_json(env.server, "workspace", "create", f"Push {uuid.uuid4().hex[:6]}", "--owner",
                  "alice")["uuid"]
    admin = Api(env.server, ws, make_token(env.server, "alice", ws, "calendars:admin"))
    allowed, other = (admin.post("/calendars", json={"name": n}).json() for n in ("A", "B"))
    token = make_token(env.server, "alice", ws, "calendars:read", "--calendars",
                       str(allowed["id"]))
    subscriber = Subscriber.new()
    before = env.server.count(push_subscription)
    refused = requests.post(other["caldavUrl"], auth=("alice", token), timeout=30,
                            data=subscriber.register_body(env.receiver))
    assert refused.status_code == 403, refused.text
    assert ET.fromstring(refused.content).find(f"{{{P}}}push-not-available") is not None
    assert env.server.count(push_subscription) == before
    accepted = requests.post(allowed["caldavUrl"], auth=("alice", token), timeout=30,
                             data=subscriber.register_body(env.receiver))
    assert accepted.status_code == 201, accepted.text


def test_the_vapid_key_and_topics_survive_a_restart(own_server: Server) -> None:
    calendar = f"{own_server.url}/alice/kept/"
    assert requests.request("MKCALENDAR", calendar, auth=AUTH, timeout=30).status_code == 201
    env = Env(own_server, Receiver(), calendar)
    before = {tag: ET.tostring(value) for tag, value in env.props().items()}
    own_server.stop()
    own_server.start()
    after = {tag: ET.tostring(value) for tag, value in env.props().items()}
    assert after == before and len(after) == 4  # transports, topic, triggers, displayname
