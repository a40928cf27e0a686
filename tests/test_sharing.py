"""Team calendars: alice shares over REST, bob's real CalDAV client finds the calendar in his
own home and works in it as far as the share allows; both doors agree; on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import caldav
import pytest
import requests

from tests.api_helpers import Api, cli_json, make_token
from tests.conftest import PASSWORD, QUIET_AUTH, Server, store_env

EVENTS = "/api/access/calendar/events"
VDIRSYNCER = Path(sys.executable).parent / "vdirsyncer"
PRIVILEGES = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>'
              "<D:current-user-privilege-set/></D:prop></D:propfind>")
COLOR = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
         'xmlns:I="http://apple.com/ns/ical/"><D:prop><D:displayname/><I:calendar-color/>'
         "</D:prop></D:propfind>")


def event_text(uid: str, summary: str, day: int = 1) -> str:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge tests//EN\r\n"
            f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART:202612{day:02d}T100000Z\r\nDTEND:202612{day:02d}T110000Z\r\n"
            f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


@dataclass
class Team:
    server: Server
    workspace: str
    alice: Api          # calendars:admin, the workspace's admin and the calendar's owner
    bob: Api            # calendars:read,write, a member

    def dav(self, user: str) -> caldav.DAVClient:
        return caldav.DAVClient(url=self.server.url, username=user, password=PASSWORD)

    def home_calendars(self, user: str) -> dict[str, caldav.Calendar]:
        """Display name -> calendar, found the way clients do: principal -> home -> list."""
        principal = self.dav(user).principal()
        return {c.get_display_name(): c for c in principal.calendar_home_set.calendars()}

    def new_calendar(self, name: str) -> dict:
        response = self.alice.post("/calendars", json={"name": name, "color": "#112233"})
        assert response.status_code == 201, response.text
        return response.json()

    def share(self, calendar: dict, expected: int = 201, **body: object) -> dict:
        response = self.alice.post(f"/calendars/{calendar['id']}/shares", json=body)
        assert response.status_code == expected, response.text
        return response.json()


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
         backend: str) -> Iterator[Team]:
    server = Server(tmp_path_factory.mktemp(f"sharing-{backend}"),
                    extra_env={**QUIET_AUTH, **store_env(request, backend)})
    server.start()
    for user in ("alice", "bob", "carol", "mallory"):
        server.add_user(user)
    ws = cli_json(server, "workspace", "create", "Acme", "--owner", "alice")["uuid"]
    cli_json(server, "workspace", "add-member", ws, "bob")
    yield Team(server, ws, Api(server, ws, make_token(server, "alice", ws, "calendars:admin")),
               Api(server, ws, make_token(server, "bob", ws, "calendars:read,calendars:write")))
    server.stop()


def privileges(url: str, user: str) -> set[str]:
    response = requests.request("PROPFIND", url, auth=(user, PASSWORD), data=PRIVILEGES,
                                headers={"Depth": "0"})
    assert response.status_code == 207, response.text
    root = ET.fromstring(response.content)
    return {child.tag.rpartition("}")[2] for privilege in root.iter("{DAV:}privilege")
            for child in privilege}


def put(url: str, user: str, text: str) -> requests.Response:
    return requests.put(url, auth=(user, PASSWORD), data=text.encode(),
                        headers={"Content-Type": "text/calendar; charset=utf-8"})


def test_read_share_then_read_write_then_revoked(team: Team) -> None:
    board = team.new_calendar("Team board")
    created = team.alice.post(EVENTS, json={"calendarId": board["id"], "summary": "Kickoff",
                                            "from": "2026-12-01T09:00:00Z",
                                            "to": "2026-12-01T10:00:00Z"})
    assert created.status_code == 201, created.text
    assert "Team board" not in team.home_calendars("bob")

    share = team.share(board, username="bob", access="read")
    assert (share["recipient"]["username"], share["access"], share["status"]) == \
        ("bob", "read", "accepted")
    shared = team.home_calendars("bob")["Team board"]
    alias = str(shared.url)
    assert alias == f"{team.server.url}/bob/shared-{board['id']}/"
    assert [e.icalendar_component["SUMMARY"] for e in shared.events()] == ["Kickoff"]
    assert privileges(alias, "bob") == {"read", "read-free-busy"}
    refused = put(f"{alias}bob-1.ics", "bob", event_text("bob-1", "Bob's idea"))
    assert refused.status_code == 403
    with pytest.raises(caldav.lib.error.DAVError):
        shared.save_event(event_text("bob-2", "Bob again"))

    # alice's client, holding a sync token, will see what bob writes once he may
    alice_view = team.dav("alice").calendar(url=board["caldavUrl"])
    before = alice_view.objects_by_sync_token(load_objects=False)
    upgraded = team.share(board, expected=200, username="bob", access="read-write")
    assert (upgraded["id"], upgraded["access"]) == (share["id"], "read-write")
    assert {"write", "write-content"} <= privileges(alias, "bob")
    assert put(f"{alias}bob-1.ics", "bob", event_text("bob-1", "Bob's idea")).status_code == 201
    changed = alice_view.objects_by_sync_token(sync_token=before.sync_token,
                                               load_objects=True)
    assert [o.icalendar_component["SUMMARY"] for o in changed] == ["Bob's idea"]
    listed = team.alice.get(EVENTS, params={"calendarId": board["id"], "from":
                                            "2026-11-30T00:00:00Z", "to": "2026-12-31T00:00:00Z"})
    assert sorted(e["summary"] for e in listed.json()["events"]) == ["Bob's idea", "Kickoff"]
    # bob cannot delete alice's calendar, nor rename it for everyone
    assert requests.delete(board["caldavUrl"], auth=("bob", PASSWORD)).status_code == 403
    assert team.bob.put(f"/calendars/{board['id']}", json={"name": "Bob's"}
                        ).status_code == 403

    revoked = team.alice.delete(f"/calendars/{board['id']}/shares/{share['id']}")
    assert revoked.status_code == 200 and revoked.json()["id"] == share["id"]
    assert "Team board" not in team.home_calendars("bob")
    assert put(f"{alias}bob-3.ics", "bob", event_text("bob-3", "Late")).status_code in (403, 404)
    assert put(f"{board['caldavUrl']}bob-3.ics", "bob", event_text("bob-3", "Late")
               ).status_code == 403
    assert team.bob.get(f"/calendars/{board['id']}").status_code == 404


def test_every_writer_reaches_every_recipients_next_sync(team: Team) -> None:
    board = team.new_calendar("Sync board")
    team.share(board, username="bob", access="read-write")
    bob_view = team.home_calendars("bob")["Sync board"]
    token = bob_view.objects_by_sync_token(load_objects=False).sync_token
    assert token.startswith(f"http://radicale.org/ns/sync/cb-{board['id']}-")
    assert team.alice.post(EVENTS, json={"calendarId": board["id"], "summary": "From REST",
                                         "from": "2026-12-02T09:00:00Z",
                                         "to": "2026-12-02T10:00:00Z"}).status_code == 201
    put(f"{board['caldavUrl']}alice-1.ics", "alice", event_text("alice-1", "From Apple", 3))
    changed = bob_view.objects_by_sync_token(sync_token=token, load_objects=True)
    assert sorted(o.icalendar_component["SUMMARY"] for o in changed) == [
        "From Apple", "From REST"]
    # one change log: the same token works on the owner's path
    alice_view = team.dav("alice").calendar(url=board["caldavUrl"])
    again = alice_view.objects_by_sync_token(sync_token=token, load_objects=False)
    assert len(list(again)) == 2


def test_a_recipients_colour_and_name_are_their_own(team: Team) -> None:
    board = team.new_calendar("Colours")
    team.share(board, username="bob", access="read")
    alias = f"{team.server.url}/bob/shared-{board['id']}/"
    patch = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" '
             'xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop>'
             "<I:calendar-color>#FF0000FF</I:calendar-color><D:displayname>Alice's board"
             "</D:displayname></D:prop></D:set></D:propertyupdate>")
    answer = requests.request("PROPPATCH", alias, auth=("bob", PASSWORD), data=patch)
    assert answer.status_code == 207 and "200 OK" in answer.text
    bob_sees = requests.request("PROPFIND", alias, auth=("bob", PASSWORD), data=COLOR,
                                headers={"Depth": "0"}).text
    alice_sees = requests.request("PROPFIND", board["caldavUrl"], auth=("alice", PASSWORD),
                                  data=COLOR, headers={"Depth": "0"}).text
    assert "#FF0000FF" in bob_sees and "Alice's board" in bob_sees
    assert "#112233" in alice_sees and ">Colours<" in alice_sees
    assert team.alice.get(f"/calendars/{board['id']}").json()["name"] == "Colours"
    # any other property of the calendar is the owner's
    timezone = patch.replace("<I:calendar-color>#FF0000FF</I:calendar-color>", "").replace(
        "<D:displayname>Alice's board</D:displayname>",
        '<C:calendar-description xmlns:C="urn:ietf:params:xml:ns:caldav">mine'
        "</C:calendar-description>")
    assert requests.request("PROPPATCH", alias, auth=("bob", PASSWORD), data=timezone
                            ).status_code == 403
    # removing it from his client hides it from his home; alice's calendar stays
    assert requests.delete(alias, auth=("bob", PASSWORD)).status_code == 204
    assert "Alice's board" not in team.home_calendars("bob")
    assert team.alice.get(f"/calendars/{board['id']}").status_code == 200
    assert requests.request("PROPFIND", alias, auth=("bob", PASSWORD), data=COLOR,
                            headers={"Depth": "0"}).status_code == 207


def test_a_workspace_share_reaches_a_member_added_afterwards(team: Team) -> None:
    board = team.new_calendar("Everyone")
    share = team.share(board, workspace=True, access="read")
    assert share["recipient"] == {"type": "workspace", "username": None, "email": None,
                                  "workspaceUuid": team.workspace}
    assert "Everyone" in team.home_calendars("bob")
    cli_json(team.server, "workspace", "add-member", team.workspace, "carol")
    carol = team.home_calendars("carol")["Everyone"]
    assert str(carol.url).endswith(f"/carol/shared-{board['id']}/")
    assert privileges(str(carol.url), "carol") == {"read", "read-free-busy"}
    assert "Everyone" not in team.home_calendars("mallory")
    # the owner has it once, at its own path, not as a share
    assert str(team.home_calendars("alice")["Everyone"].url) == board["caldavUrl"]
    assert not any("/shared-" in str(c.url) for c in team.home_calendars("alice").values())


def test_calendar_responses_tell_access_and_shares(team: Team) -> None:
    board = team.new_calendar("Described")
    share = team.share(board, email="bob@example.com", access="read-write")
    own = team.alice.get(f"/calendars/{board['id']}").json()
    assert own["access"] == "owner"
    assert [s["id"] for s in own["sharedWith"]] == [share["id"]]
    theirs = team.bob.get(f"/calendars/{board['id']}").json()
    assert (theirs["access"], theirs["sharedWith"]) == ("read-write", None)
    listed = team.bob.get("/calendars").json()["items"]
    assert {c["name"]: c["access"] for c in listed}["Described"] == "read-write"
    access = team.bob.get("/api/access/calendar/calendars").json()["data"]
    assert {c["name"]: c["access"] for c in access}["Described"] == "read-write"
    listed = team.alice.get(f"/calendars/{board['id']}/shares").json()["items"]
    assert [s["recipient"]["email"] for s in listed] == ["bob@example.com"]


def test_sharing_is_for_owners_and_admins_with_members_only(team: Team) -> None:
    board = team.new_calendar("Guarded")
    shares = f"/calendars/{board['id']}/shares"
    bob_admin = team.bob.with_token(make_token(team.server, "bob", team.workspace,
                                               "calendars:admin"))
    team.share(board, username="bob", access="read-write")
    refused = bob_admin.post(shares, json={"username": "carol", "access": "read"})
    assert refused.status_code == 403 and refused.json()["code"] == "ACCESS_DENIED"
    assert team.bob.get(shares).json()["code"] == "ACCESS_DENIED"  # lacks calendars:admin
    for body in ({"username": "mallory"}, {"username": "nobody"}, {"email": "x@example.org"}):
        answer = team.alice.post(shares, json=body)
        assert answer.status_code == 400 and answer.json()["errors"][0]["code"] == \
            "not_a_member", answer.text
    for body in ({}, {"username": "bob", "workspace": True}, {"username": "bob",
                                                             "access": "owner"}):
        assert team.alice.post(shares, json=body).status_code == 400
    assert team.alice.post(shares, json={"username": "alice"}).status_code == 400
    assert team.alice.get(f"{shares}/999999").json()["code"] == "SHARE_NOT_FOUND"
    stranger = Api(team.server, team.workspace, team.bob.token)
    assert stranger.get(f"/calendars/{board['id']}/shares/1").status_code == 403


def test_a_new_event_written_by_a_recipient_over_rest_lands_in_the_owners_calendar(
        team: Team) -> None:
    board = team.new_calendar("REST writers")
    team.share(board, username="bob", access="read-write")
    start = dt.datetime(2026, 12, 5, 9, tzinfo=dt.UTC)
    created = team.bob.post(EVENTS, json={
        "calendarId": board["id"], "summary": f"bob {uuid.uuid4().hex[:6]}",
        "from": start.isoformat().replace("+00:00", "Z"),
        "to": (start + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")})
    assert created.status_code == 201, created.text
    alice_events = team.dav("alice").calendar(url=board["caldavUrl"]).events()
    assert [e.icalendar_component["SUMMARY"] for e in alice_events] == [
        created.json()["event"]["summary"]]


def test_vdirsyncer_discovers_and_syncs_a_shared_calendar_both_ways(
        team: Team, tmp_path: Path) -> None:
    board = team.new_calendar("Synced with vdirsyncer")
    team.share(board, username="bob", access="read-write")
    put(f"{board['caldavUrl']}alice-v.ics", "alice", event_text("alice-v", "Alice's"))
    local = tmp_path / "local"
    local.mkdir()
    config = tmp_path / "vdirsyncer.conf"
    config.write_text(f"""
[general]
status_path = "{tmp_path / 'status'}/"

[pair cal]
a = "local"
b = "remote"
collections = ["from b"]

[storage local]
type = "filesystem"
path = "{local}/"
fileext = ".ics"

[storage remote]
type = "caldav"
url = "{team.server.url}/"
username = "bob"
password = "{PASSWORD}"
""")

    def vdirsyncer(*args: str) -> None:
        result = subprocess.run([str(VDIRSYNCER), "-c", str(config), *args],
                                input="y\n" * 10, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"})
        assert result.returncode == 0, result.stdout + result.stderr

    vdirsyncer("discover")
    vdirsyncer("sync")
    mirrored = local / f"shared-{board['id']}"
    assert [p.read_text().count("SUMMARY:Alice's") for p in mirrored.glob("*.ics")] == [1]
    (mirrored / "bob-v.ics").write_text(event_text("bob-v", "Bob's from vdirsyncer", 2))
    vdirsyncer("sync")
    summaries = sorted(e.icalendar_component["SUMMARY"] for e in
                       team.dav("alice").calendar(url=board["caldavUrl"]).events())
    assert summaries == ["Alice's", "Bob's from vdirsyncer"]
