"""One policy on both doors: every credential kind against own, same-workspace and
other-workspace calendars, for read, write and delete, over REST and over CalDAV; then the
share dimension (none, free/busy, read, read-write; to the user or the whole workspace; with a
password or a token), on SQLite and PostgreSQL.

"Allowed" writes and deletes are sent with a stale If-Match, so an allowed cell answers 412 and
changes nothing, while a refused one answers 401/403/404 before the precondition is looked at.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.api_helpers import cli_json, two_workspaces
from tests.api_helpers import make_token as token
from tests.conftest import PASSWORD, Server, store_env

STALE = '"stale-etag"'
EVENT = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
         "DTSTAMP:20260101T000000Z\r\nDTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\n"
         "SUMMARY:secret meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


@dataclass
class World:
    server: Server
    workspaces: dict[str, str]
    calendars: dict[str, dict]          # target name -> CalendarResponse of its calendar
    credentials: dict[str, tuple[str, str]]   # row name -> (username, secret)


class UnthrottledServer(Server):
    """The matrix makes hundreds of deliberate bad logins from one address."""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "CALBRIDGE_SECURITY_AUTH_MAX_FAILURES": "100000",
                "CALBRIDGE_SECURITY_AUTH_MAX_FAILURES_PER_ADDRESS": "100000",
                "CALBRIDGE_SECURITY_AUTH_DELAY": "0"}


def create_calendar(server: Server, workspace: str, secret: str, name: str) -> dict:
    response = requests.post(f"{server.url}/api/v2/w/{workspace}/calendars",
                             headers={"Authorization": f"Bearer {secret}"},
                             json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = UnthrottledServer(tmp_path_factory.mktemp("matrix"))
    server.start()
    ws_a, ws_b = two_workspaces(server, "Rival")
    setup = {u: token(server, u, ws, "calendars:admin") for u, ws in
             (("alice", ws_a), ("bob", ws_a), ("mallory", ws_b))}
    calendars = {
        "own": create_calendar(server, ws_a, setup["bob"], "Bob private"),
        "same-workspace": create_calendar(server, ws_a, setup["alice"], "Alice board"),
        "other-workspace": create_calendar(server, ws_b, setup["mallory"], "Rival plans"),
    }
    other_bob = create_calendar(server, ws_a, setup["bob"], "Bob other")
    expired = token(server, "bob", ws_a, "calendars:write", "--expires-in-days", "0")
    revoked = cli_json(server, "token", "create", "--user", "bob", "--workspace", ws_a,
                       "--scopes", "calendars:write")
    cli_json(server, "token", "revoke", str(revoked["id"]))
    credentials = {
        "no credential": ("", ""),
        "wrong token": ("bob", "cb_000000000000_" + "x" * 43),
        "expired": ("bob", expired),
        "revoked": ("bob", revoked["token"]),
        "read-only": ("bob", token(server, "bob", ws_a, "calendars:read")),
        "read-write": ("bob", token(server, "bob", ws_a, "calendars:read,calendars:write")),
        "admin": ("alice", token(server, "alice", ws_a, "calendars:admin")),
        "allow-list without it": ("bob", token(server, "bob", ws_a, "calendars:admin",
                                               "--calendars", str(other_bob["id"]))),
        "other workspace": ("mallory", token(server, "mallory", ws_b, "calendars:admin")),
        "free/busy only": ("bob", token(server, "bob", ws_a, "calendars:read",
                                        "--access-level", "free_busy_only")),
        "password": ("bob", PASSWORD),
    }
    yield World(server, {"A": ws_a, "B": ws_b}, calendars, credentials)
    server.stop()


# Expected REST statuses: credential -> target -> (read, write, delete).
# "admin" is alice (workspace admin): "own" is bob's calendar, reached through her role.
DENY_ALL_401 = {t: (401, 401, 401) for t in ("own", "same-workspace", "other-workspace")}
REST = {
    "no credential": DENY_ALL_401,
    "wrong token": DENY_ALL_401,
    "expired": DENY_ALL_401,
    "revoked": DENY_ALL_401,
    "password": DENY_ALL_401,  # the REST door takes Bearer tokens only
    "read-only": {"own": (200, 403, 403), "same-workspace": (404, 404, 404),
                  "other-workspace": (404, 404, 404)},
    "read-write": {"own": (200, 412, 403), "same-workspace": (404, 404, 404),
                   "other-workspace": (404, 404, 404)},
    "admin": {"own": (200, 412, 412), "same-workspace": (200, 412, 412),
              "other-workspace": (404, 404, 404)},
    "allow-list without it": {"own": (403, 403, 403), "same-workspace": (404, 404, 404),
                              "other-workspace": (404, 404, 404)},
    "other workspace": {"own": (404, 404, 404), "same-workspace": (404, 404, 404),
                        "other-workspace": (200, 412, 412)},
    "free/busy only": {"own": (200, 403, 403), "same-workspace": (404, 404, 404),
                       "other-workspace": (404, 404, 404)},
}
REST_CODES = {403: {"ACCESS_DENIED", "TOKEN_DENIED"}, 404: {"CALENDAR_NOT_FOUND",
                                                             "WORKSPACE_NOT_FOUND"},
              401: {"AUTH_FAILED"}, 412: {"PRECONDITION_FAILED"}}

CALDAV = {
    "no credential": DENY_ALL_401,
    "wrong token": DENY_ALL_401,
    "expired": DENY_ALL_401,
    "revoked": DENY_ALL_401,
    "read-only": {"own": (207, 403, 403), "same-workspace": (403, 403, 403),
                  "other-workspace": (403, 403, 403)},
    "read-write": {"own": (207, 412, 403), "same-workspace": (403, 403, 403),
                   "other-workspace": (403, 403, 403)},
    "admin": {"own": (207, 412, 412), "same-workspace": (207, 412, 412),
              "other-workspace": (403, 403, 403)},
    "allow-list without it": {"own": (403, 403, 403), "same-workspace": (403, 403, 403),
                              "other-workspace": (403, 403, 403)},
    "other workspace": {"own": (403, 403, 403), "same-workspace": (403, 403, 403),
                        "other-workspace": (207, 412, 412)},
    # free/busy reaches the calendar's properties (as REST shows its metadata), never events
    "free/busy only": {"own": (207, 403, 403), "same-workspace": (403, 403, 403),
                       "other-workspace": (403, 403, 403)},
    "password": {"own": (207, 412, 412), "same-workspace": (403, 403, 403),
                 "other-workspace": (403, 403, 403)},
}

CELLS = [(row, target) for row in REST for target in ("own", "same-workspace",
                                                      "other-workspace")]


def leaks(world: World, text: str, target: str) -> bool:
    calendar = world.calendars[target]
    return calendar["name"] in text or "secret meeting" in text


@pytest.mark.parametrize(("row", "target"), CELLS)
def test_rest_door_applies_the_policy(world: World, row: str, target: str) -> None:
    username, secret = world.credentials[row]
    calendar = world.calendars[target]
    # the path of the workspace the credential works in, as its holder would call it
    workspace = world.workspaces["B" if row == "other workspace" else "A"]
    url = f"{world.server.url}/api/v2/w/{workspace}/calendars/{calendar['id']}"
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    if row == "password":
        headers = {"Authorization": requests.auth._basic_auth_str(username, secret)}
    stale = {**headers, "If-Match": STALE}
    answers = (requests.get(url, headers=headers),
               requests.put(url, headers=stale, json={"description": "changed"}),
               requests.delete(url, headers=stale))
    assert tuple(a.status_code for a in answers) == REST[row][target]
    for answer in answers:
        if answer.status_code >= 400:
            assert answer.headers["Content-Type"] == "application/problem+json"
            assert answer.json()["code"] in REST_CODES[answer.status_code]
        visible = answer.status_code in (200, 412)
        assert visible or not leaks(world, answer.text, target)


@pytest.mark.parametrize(("row", "target"), CELLS)
def test_caldav_door_applies_the_same_policy(world: World, row: str, target: str) -> None:
    username, secret = world.credentials[row]
    calendar = world.calendars[target]
    url = calendar["caldavUrl"]
    auth = (username, secret) if secret else None
    expected = CALDAV[row][target]
    # Radicale looks at If-Match before its delete permission, so a cell that must refuse the
    # delete is asked without one: a wrong grant would delete the calendar and fail the test.
    delete_headers = {} if expected[2] == 403 else {"If-Match": STALE}
    answers = (
        requests.request("PROPFIND", url, auth=auth, headers={"Depth": "0"}),
        requests.put(f"{url}{uuid.uuid4().hex}.ics", auth=auth,
                     data=EVENT.format(uid=uuid.uuid4().hex),
                     headers={"If-Match": STALE, "Content-Type": "text/calendar"}),
        requests.delete(url, auth=auth, headers=delete_headers),
    )
    assert tuple(a.status_code for a in answers) == expected
    for answer in answers:
        assert answer.status_code in (207, 412) or not leaks(world, answer.text, target)


def test_listing_shows_only_what_the_token_may_see(world: World) -> None:
    _, secret = world.credentials["read-only"]
    listed = requests.get(f"{world.server.url}/api/v2/w/{world.workspaces['A']}/calendars",
                          headers={"Authorization": f"Bearer {secret}"}).json()
    names = {c["name"] for c in listed["items"]}
    assert names == {"Bob private", "Bob other"}
    _, admin = world.credentials["admin"]
    listed = requests.get(f"{world.server.url}/api/v2/w/{world.workspaces['A']}/calendars",
                          headers={"Authorization": f"Bearer {admin}"}).json()
    assert {c["name"] for c in listed["items"]} == {"Bob private", "Bob other", "Alice board"}


def test_free_busy_only_token_may_ask_caldav_for_free_busy(world: World) -> None:
    username, secret = world.credentials["free/busy only"]
    body = ('<?xml version="1.0"?><C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">'
            '<C:time-range start="20261101T000000Z" end="20261231T000000Z"/>'
            "</C:free-busy-query>")
    response = requests.request("REPORT", world.calendars["own"]["caldavUrl"],
                                auth=(username, secret), data=body,
                                headers={"Depth": "1", "Content-Type": "application/xml"})
    assert response.status_code == 200
    assert "VFREEBUSY" in response.text and "SUMMARY" not in response.text


def test_database_holds_no_token_or_password_in_clear(world: World) -> None:
    secrets = [s for _, s in world.credentials.values() if len(s) > 20] + [PASSWORD]
    cells = world.server.stored_cells()
    for secret in secrets:
        assert not any(secret in cell for cell in cells)
        if secret.startswith("cb_"):  # the secret part alone must not be there either
            secret_part = secret[len("cb_"):].partition("_")[2]
            assert not any(secret_part in cell for cell in cells)
    raw = world.server.stored_bytes()
    assert raw and not any(s.encode() in raw for s in secrets)


def test_token_introspection_describes_the_token(world: World) -> None:
    _, secret = world.credentials["allow-list without it"]
    info = requests.get(f"{world.server.url}/api/access/token",
                        headers={"Authorization": f"Bearer {secret}"}).json()
    assert info["username"] == "bob" and info["workspaceUuid"] == world.workspaces["A"]
    assert info["scopes"] == ["calendars:admin"] and len(info["calendarIds"]) == 1
    assert "token" not in info


def test_a_token_created_with_the_cli_works_at_once_on_both_doors(world: World) -> None:
    created = cli_json(world.server, "token", "create", "--user", "bob", "--workspace",
                       world.workspaces["A"], "--scopes", "calendars:read")
    url = world.calendars["own"]["caldavUrl"]
    assert requests.request("PROPFIND", url, auth=("bob", created["token"]),
                            headers={"Depth": "0"}).status_code == 207
    api = f"{world.server.url}/api/v2/w/{world.workspaces['A']}/calendars"
    assert requests.get(api, headers={"Authorization": f"Bearer {created['token']}"}
                        ).status_code == 200


def test_workspace_admin_manages_tokens_over_rest(world: World) -> None:
    _, admin = world.credentials["admin"]
    base = f"{world.server.url}/api/v2/w/{world.workspaces['A']}/tokens"
    auth = {"Authorization": f"Bearer {admin}"}
    created = requests.post(base, headers=auth, json={"username": "bob",
                                                       "scopes": ["calendars:read"]})
    assert created.status_code == 201
    new_token = created.json()["token"]
    listed = requests.get(base, headers=auth).json()["items"]
    assert created.json()["id"] in {t["id"] for t in listed}
    assert all("token" not in t for t in listed)
    check = {"Authorization": f"Bearer {new_token}"}
    assert requests.get(f"{world.server.url}/api/access/token", headers=check).ok
    revoked = requests.delete(f"{base}/{created.json()['id']}", headers=auth)
    assert revoked.status_code == 200 and revoked.json()["revokedAt"]
    assert requests.get(f"{world.server.url}/api/access/token",
                        headers=check).status_code == 401
    _, member = world.credentials["read-write"]
    assert requests.get(base, headers={"Authorization": f"Bearer {member}"}
                        ).status_code == 403


# -- the share dimension: none / free-busy / read / read-write, shared with the user or with
# the whole workspace, used with a password or a token, on both doors, on both stores --------

SHARE_LEVELS = ("none", "freebusy", "read", "read-write")
SHARE_TARGETS = ["none"] + [f"{level} via {via}" for level in SHARE_LEVELS[1:]
                            for via in ("user", "workspace")]
SHARE_ROWS = ("bob password", "bob token", "mallory password", "mallory token")
# REST (GET event, DELETE event with a stale If-Match, free/busy) and CalDAV (GET object, PUT
# with a stale If-Match, free-busy REPORT) by the level that reaches the caller.
SHARE_REST = {"none": (404, 404, 404), "freebusy": (403, 403, 200),
              "read": (200, 403, 200), "read-write": (200, 412, 200)}
SHARE_CALDAV = {"none": (403, 403, 403), "freebusy": (403, 403, 200),
                "read": (200, 403, 200), "read-write": (200, 412, 200)}
FREE_BUSY_QUERY = ('<?xml version="1.0"?><C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:'
                   'caldav"><C:time-range start="20261101T000000Z" end="20261231T000000Z"/>'
                   "</C:free-busy-query>")


@dataclass
class ShareWorld:
    server: Server
    workspaces: dict[str, str]
    calendars: dict[str, dict]        # target -> alice's calendar, with "event" and "href"
    credentials: dict[str, tuple[str, str, str]]   # row -> (username, secret, workspace key)


@pytest.fixture(scope="module")
def share_world(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
                backend: str) -> Iterator[ShareWorld]:
    server = UnthrottledServer(tmp_path_factory.mktemp(f"share-matrix-{backend}"),
                               extra_env=store_env(request, backend))
    server.start()
    ws_a, ws_b = two_workspaces(server, "Rival")
    alice = token(server, "alice", ws_a, "calendars:admin")
    calendars = {}
    for target in SHARE_TARGETS:
        calendar = create_calendar(server, ws_a, alice, f"Shared {target}")
        level, _, via = target.partition(" via ")
        if level != "none":
            body = {"workspace": True} if via == "workspace" else {"username": "bob"}
            shared = requests.post(f"{server.url}/api/v2/w/{ws_a}/calendars/{calendar['id']}"
                                   "/shares", headers={"Authorization": f"Bearer {alice}"},
                                   json={**body, "access": level})
            assert shared.status_code == 201, shared.text
        href = f"{uuid.uuid4().hex}.ics"
        stored = requests.put(f"{calendar['caldavUrl']}{href}", auth=("alice", PASSWORD),
                              data=EVENT.format(uid=uuid.uuid4().hex),
                              headers={"Content-Type": "text/calendar"})
        assert stored.status_code == 201, stored.text
        listed = requests.get(f"{server.url}/api/access/calendar/events", params={
            "calendarId": calendar["id"], "from": "2026-11-01T00:00:00Z",
            "to": "2026-12-31T00:00:00Z"}, headers={"Authorization": f"Bearer {alice}"})
        calendars[target] = {**calendar, "event": listed.json()["events"][0]["id"],
                             "href": href}
    credentials = {
        "bob password": ("bob", PASSWORD, "A"),
        "bob token": ("bob", token(server, "bob", ws_a, "calendars:read,calendars:write"), "A"),
        "mallory password": ("mallory", PASSWORD, "B"),
        "mallory token": ("mallory", token(server, "mallory", ws_b, "calendars:admin"), "B"),
    }
    yield ShareWorld(server, {"A": ws_a, "B": ws_b}, calendars, credentials)
    server.stop()


def share_level(row: str, target: str) -> str:
    return "none" if row.startswith("mallory") else target.partition(" via ")[0]


SHARE_CELLS = [(row, target) for row in SHARE_ROWS for target in SHARE_TARGETS]


@pytest.mark.parametrize(("row", "target"), [c for c in SHARE_CELLS if "token" in c[0]])
def test_rest_door_applies_shares(share_world: ShareWorld, row: str, target: str) -> None:
    _, secret, _ = share_world.credentials[row]
    calendar = share_world.calendars[target]
    api = f"{share_world.server.url}/api/access/calendar"
    headers = {"Authorization": f"Bearer {secret}"}
    answers = (
        requests.get(f"{api}/events/{calendar['event']}", headers=headers),
        requests.delete(f"{api}/events/{calendar['event']}",
                        headers={**headers, "If-Match": STALE}),
        requests.get(f"{api}/freebusy", headers=headers, params={
            "calendars": str(calendar["id"]), "from": "2026-11-01T00:00:00Z",
            "to": "2026-12-31T00:00:00Z"}),
    )
    assert tuple(a.status_code for a in answers) == SHARE_REST[share_level(row, target)]
    for answer in answers[:2]:
        assert answer.status_code in (200, 412) or "secret meeting" not in answer.text
    assert answers[2].status_code != 200 or "secret meeting" not in answers[2].text
    listed = requests.get(f"{api}/calendars", headers=headers).json()["data"]
    access = {c["id"]: c["access"] for c in listed}.get(calendar["id"])
    level = share_level(row, target)
    assert access == (None if level == "none" else level)


@pytest.mark.parametrize(("row", "target"), SHARE_CELLS)
def test_caldav_door_applies_the_same_shares(share_world: ShareWorld, row: str,
                                             target: str) -> None:
    username, secret, _ = share_world.credentials[row]
    calendar = share_world.calendars[target]
    url = calendar["caldavUrl"]
    auth = (username, secret)
    answers = (
        requests.get(f"{url}{calendar['href']}", auth=auth),
        requests.put(f"{url}{calendar['href']}", auth=auth,
                     data=EVENT.format(uid="changed"),
                     headers={"If-Match": STALE, "Content-Type": "text/calendar"}),
        requests.request("REPORT", url, auth=auth, data=FREE_BUSY_QUERY,
                         headers={"Depth": "1", "Content-Type": "application/xml"}),
    )
    level = share_level(row, target)
    assert tuple(a.status_code for a in answers) == SHARE_CALDAV[level]
    assert answers[2].status_code != 200 or "secret meeting" not in answers[2].text
    assert all(a.status_code in (200, 412) or "secret meeting" not in a.text
               for a in answers[:2])
    home = requests.request("PROPFIND", f"{share_world.server.url}/{username}/", auth=auth,
                            headers={"Depth": "1"})
    assert home.status_code == 207
    # a client lists what it can sync: read and read-write, not free/busy only
    assert (f"/{username}/shared-{calendar['id']}/" in home.text) == (
        level in ("read", "read-write"))
    assert (calendar["name"] in home.text) == (level in ("read", "read-write"))


def test_no_share_crosses_workspaces(share_world: ShareWorld) -> None:
    alice_secret = token(share_world.server, "alice", share_world.workspaces["A"],
                         "calendars:admin")
    calendar = share_world.calendars["none"]
    answer = requests.post(
        f"{share_world.server.url}/api/v2/w/{share_world.workspaces['A']}/calendars/"
        f"{calendar['id']}/shares", headers={"Authorization": f"Bearer {alice_secret}"},
        json={"username": "mallory", "access": "read"})
    assert answer.status_code == 400 and answer.json()["errors"][0]["code"] == "not_a_member"
    # mallory's token, addressing workspace A's calendars list, sees no workspace at all
    _, mallory, _ = share_world.credentials["mallory token"]
    listed = requests.get(f"{share_world.server.url}/api/v2/w/{share_world.workspaces['A']}"
                          "/calendars", headers={"Authorization": f"Bearer {mallory}"})
    assert listed.status_code == 404
