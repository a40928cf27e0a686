"""Apple's sharing extension (CalendarServer caldav-sharing) on the CalDAV door: the requests
of the spec's examples (as Apple Calendar and sabre/dav send them), replayed against the real
server, and the CS:invite PROPFIND round trip."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.api_helpers import Api, cli_json, make_token
from tests.conftest import PASSWORD, QUIET_AUTH, Server, store_env

CS = "{http://calendarserver.org/ns/}"
D = "{DAV:}"
# caldav-sharing 5.3.1 "share" request, as Apple Calendar sends it: one sharee added read-write
# (by e-mail), one removed.
SHARE = """<?xml version="1.0" encoding="utf-8" ?>
<CS:share xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
  <CS:set>
    <D:href>mailto:{email}</D:href>
    <CS:common-name>{name}</CS:common-name>
    <CS:summary>Team board</CS:summary>
    <CS:{access}/>
  </CS:set>
  <CS:remove>
    <D:href>mailto:nobody-shared@example.com</D:href>
  </CS:remove>
</CS:share>"""
UNSHARE = """<?xml version="1.0" encoding="utf-8" ?>
<CS:share xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
  <CS:remove><D:href>{href}</D:href></CS:remove>
</CS:share>"""
SHARE_RESOURCE = """<?xml version="1.0" encoding="utf-8" ?>
<D:share-resource xmlns:D="DAV:">
  <D:sharee>
    <D:href>{href}</D:href>
    <D:prop><D:displayname>Bob</D:displayname></D:prop>
    <D:comment>Please look</D:comment>
    <D:share-access><D:{access}/></D:share-access>
  </D:sharee>
</D:share-resource>"""
INVITE_REPLY = """<?xml version="1.0" encoding="utf-8" ?>
<CS:invite-reply xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
  <D:href>mailto:bob@example.com</D:href>
  <CS:invite-{answer}/>
  <CS:hosturl><D:href>{host}</D:href></CS:hosturl>
  <CS:in-reply-to>share</CS:in-reply-to>
</CS:invite-reply>"""
PROPFIND = """<?xml version="1.0" encoding="utf-8" ?>
<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
  <D:prop><D:resourcetype/><D:displayname/><CS:invite/><CS:allowed-sharing-modes/>
  <CS:shared-url/></D:prop>
</D:propfind>"""


@dataclass
class Setup:
    server: Server
    alice: Api
    calendar: dict

    def post(self, url: str, body: str, user: str = "alice") -> requests.Response:
        return requests.post(url, auth=(user, PASSWORD), data=body.encode(),
                             headers={"Content-Type": "application/xml; charset=utf-8"})

    def propfind(self, url: str, user: str, depth: str = "0") -> ET.Element:
        response = requests.request("PROPFIND", url, auth=(user, PASSWORD), data=PROPFIND,
                                    headers={"Depth": depth})
        assert response.status_code == 207, response.text
        return ET.fromstring(response.content)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
          backend: str) -> Iterator[Setup]:
    server = Server(tmp_path_factory.mktemp(f"apple-sharing-{backend}"),
                    extra_env={**QUIET_AUTH, **store_env(request, backend)})
    server.start()
    for user in ("alice", "bob", "mallory"):
        server.add_user(user)
    ws = cli_json(server, "workspace", "create", "Acme", "--owner", "alice")["uuid"]
    cli_json(server, "workspace", "add-member", ws, "bob")
    cli_json(server, "workspace", "create", "Rival", "--owner", "mallory")
    alice = Api(server, ws, make_token(server, "alice", ws, "calendars:admin"))
    calendar = alice.post("/calendars", json={"name": "Team board"}).json()
    yield Setup(server, alice, calendar)
    server.stop()


def found(root: ET.Element, tag: str) -> ET.Element | None:
    for propstat in root.iter(f"{D}propstat"):
        if "200" in (propstat.findtext(f"{D}status") or ""):
            element = propstat.find(f"{D}prop/{tag}")
            if element is not None:
                return element
    return None


def test_options_advertise_calendarserver_sharing(setup: Setup) -> None:
    response = requests.options(setup.calendar["caldavUrl"], auth=("alice", PASSWORD))
    assert "calendarserver-sharing" in [c.strip() for c in response.headers["DAV"].split(",")]


def test_share_request_and_invite_round_trip(setup: Setup) -> None:
    url = setup.calendar["caldavUrl"]
    before = setup.propfind(url, "alice")
    assert found(before, f"{CS}allowed-sharing-modes") is not None
    assert found(before, f"{CS}allowed-sharing-modes").find(f"{CS}can-be-shared") is not None
    assert [u for u in found(before, f"{CS}invite").iter(f"{CS}user")] == []

    answer = setup.post(url, SHARE.format(email="bob@example.com", name="Bob", access="read-write"))
    assert answer.status_code == 200, answer.text
    invite = found(setup.propfind(url, "alice"), f"{CS}invite")
    assert invite is not None
    assert invite.findtext(f"{CS}organizer/{CS}common-name") == "alice"
    [user] = invite.findall(f"{CS}user")
    assert user.findtext(f"{D}href") == "mailto:bob@example.com"
    assert user.findtext(f"{CS}common-name") == "bob"
    assert user.find(f"{CS}invite-accepted") is not None
    assert user.find(f"{CS}access/{CS}read-write") is not None
    assert user.findtext(f"{CS}summary") == "Team board"
    owner_type = found(setup.propfind(url, "alice"), f"{D}resourcetype")
    assert owner_type is not None and owner_type.find(f"{CS}shared-owner") is not None
    # the same share, as the REST API shows it
    [share] = setup.alice.get(f"/calendars/{setup.calendar['id']}/shares").json()["items"]
    assert (share["recipient"]["username"], share["access"]) == ("bob", "read-write")

    # bob's home lists it, marked shared, pointing at the owner's calendar
    home = setup.propfind(f"{setup.server.url}/bob/", "bob", depth="1")
    alias = f"/bob/shared-{setup.calendar['id']}/"
    [response] = [r for r in home.iter(f"{D}response") if r.findtext(f"{D}href") == alias]
    assert found(response, f"{D}resourcetype").find(f"{CS}shared") is not None
    assert found(response, f"{CS}shared-url").findtext(f"{D}href") == \
        f"/alice/{setup.calendar['uuid']}/"
    assert found(response, f"{CS}allowed-sharing-modes") is None  # bob may not share it on

    # Apple's "Stop sharing" for bob: a CS:remove with his principal URL
    answer = setup.post(url, UNSHARE.format(href=f"{setup.server.url}/bob/"))
    assert answer.status_code == 200
    assert found(setup.propfind(url, "alice"), f"{CS}invite").findall(f"{CS}user") == []
    assert alias not in requests.request("PROPFIND", f"{setup.server.url}/bob/",
                                         auth=("bob", PASSWORD), headers={"Depth": "1"}).text


def test_share_resource_of_the_newer_draft(setup: Setup) -> None:
    url = setup.calendar["caldavUrl"]
    answer = setup.post(url, SHARE_RESOURCE.format(href="/bob/", access="read"))
    assert answer.status_code == 200, answer.text
    [user] = found(setup.propfind(url, "alice"), f"{CS}invite").findall(f"{CS}user")
    assert user.find(f"{CS}access/{CS}read") is not None
    put = requests.put(f"{setup.server.url}/bob/shared-{setup.calendar['id']}/x.ics",
                       auth=("bob", PASSWORD), data=b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    assert put.status_code == 403
    answer = setup.post(url, SHARE_RESOURCE.format(href="mailto:bob@example.com",
                                                   access="no-access"))
    assert answer.status_code == 200
    assert found(setup.propfind(url, "alice"), f"{CS}invite").findall(f"{CS}user") == []


def test_a_sharee_declines_and_accepts_again(setup: Setup) -> None:
    url = setup.calendar["caldavUrl"]
    assert setup.post(url, SHARE.format(email="bob@example.com", name="Bob",
                                        access="read")).status_code == 200
    home = f"{setup.server.url}/bob/"
    alias = f"/bob/shared-{setup.calendar['id']}/"
    declined = setup.post(home, INVITE_REPLY.format(answer="declined", host=url), user="bob")
    assert declined.status_code == 200
    [user] = found(setup.propfind(url, "alice"), f"{CS}invite").findall(f"{CS}user")
    assert user.find(f"{CS}invite-declined") is not None
    assert alias not in requests.request("PROPFIND", home, auth=("bob", PASSWORD),
                                         headers={"Depth": "1"}).text
    accepted = setup.post(home, INVITE_REPLY.format(answer="accepted", host=url), user="bob")
    assert accepted.status_code == 200
    assert ET.fromstring(accepted.content).findtext(f"{D}href") == alias
    assert alias in requests.request("PROPFIND", home, auth=("bob", PASSWORD),
                                     headers={"Depth": "1"}).text
    setup.post(url, UNSHARE.format(href="mailto:bob@example.com"))


def test_only_owners_share_and_only_with_members_and_nothing_changes_otherwise(
        setup: Setup) -> None:
    url = setup.calendar["caldavUrl"]
    outsider = setup.post(url, SHARE.format(email="mallory@example.com", name="M",
                                            access="read"))
    assert outsider.status_code == 403 and "not-a-member" in outsider.text
    unknown = setup.post(url, SHARE_RESOURCE.format(href="mailto:ghost@example.com",
                                                    access="read"))
    assert unknown.status_code == 403
    assert setup.alice.get(f"/calendars/{setup.calendar['id']}/shares").json()["items"] == []
    # bob, even with read-write access, may not share it on
    assert setup.post(url, SHARE.format(email="bob@example.com", name="B", access="read")
                      ).status_code == 200
    by_bob = setup.post(f"{setup.server.url}/bob/shared-{setup.calendar['id']}/",
                        SHARE.format(email="alice@example.com", name="A", access="read"),
                        user="bob")
    assert by_bob.status_code == 403
    assert setup.post(url, SHARE.format(email="alice@example.com", name="A", access="read"),
                      user="bob").status_code == 403
    garbage = setup.post(url, "<CS:share xmlns:CS='http://calendarserver.org/ns/'/>")
    assert garbage.status_code == 400
    setup.post(url, UNSHARE.format(href="mailto:bob@example.com"))
