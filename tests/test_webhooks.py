"""Webhooks with a real receiver on loopback: one signed delivery per change whichever door
made it (verified with the `standardwebhooks` package), at-least-once across a receiver that
is down and a server restart, a delivery log, a ping, and endpoints disabled after failures."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from standardwebhooks import Webhook

from tests.api_helpers import Api, WorkspaceClients, assert_problem, cli_json, make_token
from tests.conftest import PASSWORD, QUIET_AUTH, Server, store_env
from tests.receivers import Receiver

EVENTS = "/api/access/calendar/events"
OBJECT = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
          "DTSTAMP:20260101T000000Z\r\nDTSTART:20261210T110000Z\r\nDURATION:PT1H\r\n"
          "SUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
LOOPBACK = {"CALBRIDGE_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
            "CALBRIDGE_WEBHOOKS_REQUIRE_HTTPS": "false", "CALBRIDGE_WEBHOOKS_RETRY_SECONDS": "1",
            "CALBRIDGE_PUSH_INTERVAL": "0.2"}


def hook_server(data_dir: Path, request: pytest.FixtureRequest, backend: str,
                users: tuple[str, ...] = ("alice",), **env: str) -> Server:
    # A delivery claimed when the server stops is claimed again after the lease: short here.
    srv = Server(data_dir, extra_env={**QUIET_AUTH, **store_env(request, backend),
                                      "CALBRIDGE_WEBHOOKS_LEASE_SECONDS": "10", **env})
    srv.start()
    for user in users:
        srv.add_user(user)
    return srv


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
           backend: str) -> Iterator[Server]:
    srv = hook_server(tmp_path_factory.mktemp(f"hooks-{backend}"), request, backend,
                      ("alice", "bob", "mallory"), **LOOPBACK)
    yield srv
    srv.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def workspace(server: Server) -> tuple[Api, dict]:
    """A workspace of alice's seen through her calendars:admin token, and a calendar in it."""
    ws = cli_json(server, "workspace", "create", f"Hooks {uuid.uuid4().hex[:6]}", "--owner",
                  "alice")["uuid"]
    admin = Api(server, ws, make_token(server, "alice", ws, "calendars:admin"))
    return admin, admin.post("/calendars", json={"name": "Team"}).json()


def register(api: Api, url: str, **fields: object) -> dict:
    answer = api.post("/webhooks", json={"url": url, **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()


def verified(received: list, secret: str) -> list[dict]:
    """Each delivery's payload, after its signature verifies."""
    return [Webhook(secret).verify(r.body, r.headers) for r in received]


def put_caldav(calendar: dict, uid: str) -> None:
    answer = requests.put(f"{calendar['caldavUrl']}{uid}.ics", auth=("alice", PASSWORD),
                          data=OBJECT.format(uid=uid).encode(), timeout=30)
    assert answer.status_code == 201, answer.text


def test_a_rest_create_a_caldav_put_and_a_caldav_delete_each_deliver_one_signed_payload(
        server: Server, receiver: Receiver) -> None:
    admin, calendar = workspace(server)
    hook = register(admin, receiver.url("/all"), description="everything")
    assert hook["secret"].startswith("whsec_") and hook["enabled"] is True
    assert "secret" not in admin.get(f"/webhooks/{hook['id']}").json()
    listed = admin.get("/webhooks").json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]]

    created = admin.post(EVENTS, json={
        "calendarId": calendar["id"], "summary": "From REST",
        "from": "2026-12-10T09:00:00Z", "to": "2026-12-10T10:00:00Z"})
    assert created.status_code == 201, created.text
    put_caldav(calendar, "from-caldav")
    assert requests.delete(f"{calendar['caldavUrl']}from-caldav.ics", auth=("alice", PASSWORD),
                           timeout=30).status_code == 200
    events = admin.get(EVENTS, params={
        "calendarId": calendar["id"], "from": "2026-12-10T00:00:00Z",
        "to": "2026-12-11T00:00:00Z"}).json()["events"]
    assert [e["summary"] for e in events] == ["From REST"]

    payloads = verified(receiver.wait_for("/all", 3), hook["secret"])
    caldav_id = payloads[1]["data"]["eventId"]
    assert [(p["type"], p["data"].get("eventId")) for p in payloads] == [
        ("event.created", created.json()["event"]["id"]), ("event.created", caldav_id),
        ("event.deleted", caldav_id)]
    assert {p["data"]["calendarId"] for p in payloads} == {calendar["id"]}
    assert {p["data"]["workspaceId"] for p in payloads} == {admin.workspace}
    assert payloads[-1]["data"]["syncToken"] == \
        admin.get(f"/calendars/{calendar['id']}").json()["syncToken"]
    time.sleep(1)  # nothing else comes
    assert len(receiver.at("/all")) == 3

    log = admin.get(f"/webhooks/{hook['id']}/deliveries").json()["items"]
    assert [(d["eventType"], d["status"], d["attempts"], d["lastStatus"]) for d in log] == [
        ("event.deleted", "delivered", 1, 201), ("event.created", "delivered", 1, 201),
        ("event.created", "delivered", 1, 201)]


def test_filters_by_calendar_and_type_and_announces_calendar_changes(
        server: Server, receiver: Receiver) -> None:
    admin, calendar = workspace(server)
    other = admin.post("/calendars", json={"name": "Other"}).json()
    only = register(admin, receiver.url("/one"), calendarId=calendar["id"],
                    eventTypes=["event.created", "calendar.updated", "calendar.deleted"])
    lifecycle = register(admin, receiver.url("/calendars"),
                         eventTypes=["calendar.created", "calendar.updated",
                                     "calendar.deleted"])
    put_caldav(other, "elsewhere")
    put_caldav(calendar, "here")
    renamed = admin.put(f"/calendars/{calendar['id']}", json={"name": "Renamed"})
    assert renamed.status_code == 200, renamed.text
    made = admin.post("/calendars", json={"name": "New"}).json()
    assert admin.delete(f"/calendars/{calendar['id']}").status_code == 200

    one = verified(receiver.wait_for("/one", 3), only["secret"])
    assert [p["type"] for p in one] == ["event.created", "calendar.updated", "calendar.deleted"]
    changes = verified(receiver.wait_for("/calendars", 3), lifecycle["secret"])
    assert [(p["type"], p["data"]["calendarId"]) for p in changes] == [
        ("calendar.updated", calendar["id"]), ("calendar.created", made["id"]),
        ("calendar.deleted", calendar["id"])]


def test_ping_is_delivered_and_repeated_failures_disable_the_endpoint(
        tmp_path: Path, request: pytest.FixtureRequest, backend: str,
        receiver: Receiver) -> None:
    srv = hook_server(tmp_path / "data", request, backend, **LOOPBACK,
                      CALBRIDGE_WEBHOOKS_DISABLE_AFTER_FAILURES="3")
    try:
        admin, _ = workspace(srv)
        hook = register(admin, receiver.url("/ping"))
        ping = admin.post(f"/webhooks/{hook['id']}/ping")
        assert (ping.status_code, ping.json()["eventType"]) == (202, "webhook.ping")
        [payload] = verified(receiver.wait_for("/ping", 1), hook["secret"])
        assert payload["type"] == "webhook.ping" and payload["data"]["webhookId"] == hook["id"]

        receiver.status = 500
        admin.post(f"/webhooks/{hook['id']}/ping")
        deadline = time.monotonic() + 30
        while admin.get(f"/webhooks/{hook['id']}").json()["enabled"] and \
                time.monotonic() < deadline:
            time.sleep(0.2)
        state = admin.get(f"/webhooks/{hook['id']}").json()
        assert state["enabled"] is False
        assert state["disabledReason"].startswith("3 failed attempts in a row")
        assert len(receiver.at("/ping")) == 4  # the first ping and three failed attempts
        [last, first] = admin.get(f"/webhooks/{hook['id']}/deliveries").json()["items"]
        assert (last["status"], last["attempts"], last["lastStatus"]) == ("queued", 3, 500)

        receiver.status = 204
        assert admin.post(f"/webhooks/{hook['id']}/enable").json()["enabled"] is True
        assert len(receiver.wait_for("/ping", 5)) == 5  # the queued ping goes out again
        assert [p["type"] for p in verified(receiver.at("/ping")[4:], hook["secret"])] == \
            ["webhook.ping"]
    finally:
        srv.stop()


def test_a_receiver_that_is_down_gets_every_delivery_after_it_is_back_across_a_restart(
        tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> None:
    srv = hook_server(tmp_path / "data", request, backend, **LOOPBACK)
    receiver = Receiver()  # not listening yet
    try:
        admin, calendar = workspace(srv)
        hook = register(admin, receiver.url("/down"))
        for number in range(3):
            put_caldav(calendar, f"while-down-{number}")
        def log() -> list[dict]:
            return admin.get(f"/webhooks/{hook['id']}/deliveries").json()["items"]

        def settled() -> list[tuple[str, bool]]:  # an attempt in flight is 'sending'
            return [(d["status"], d["lastError"] is not None) for d in log()]

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and settled() != [("queued", True)] * 3:
            time.sleep(0.2)
        assert settled() == [("queued", True)] * 3

        srv.stop()
        srv.start()
        receiver.start()
        payloads = verified(receiver.wait_for("/down", 3, timeout=40), hook["secret"])
        assert sorted(p["data"]["eventId"] for p in payloads) == sorted(
            e["id"] for e in admin.get(EVENTS, params={
                "calendarId": calendar["id"], "from": "2026-12-10T00:00:00Z",
                "to": "2026-12-11T00:00:00Z"}).json()["events"])
        ids = [r.headers["webhook-id"] for r in receiver.at("/down")]
        assert len(set(ids)) == 3
        time.sleep(1.5)
        assert len(receiver.at("/down")) == 3
    finally:
        receiver.stop()
        srv.stop()


def test_only_workspace_admins_manage_webhooks_and_restricted_tokens_name_their_calendar(
        server: Server, receiver: Receiver) -> None:
    clients = WorkspaceClients.create(server, f"Hooks {uuid.uuid4().hex[:6]}")
    admin, ws = clients.admin, clients.admin.workspace
    calendar = admin.post("/calendars", json={"name": "Team"}).json()
    url = receiver.url("/x")
    assert_problem(clients.reader.post("/webhooks", json={"url": url}), 403, "ACCESS_DENIED")
    assert_problem(clients.writer.get("/webhooks"), 403, "ACCESS_DENIED")
    assert_problem(clients.stranger.get("/webhooks"), 404, "WORKSPACE_NOT_FOUND")
    cli_json(server, "workspace", "add-member", ws, "bob")
    member = Api(server, ws, make_token(server, "bob", ws, "calendars:admin"))
    assert_problem(member.post("/webhooks", json={"url": url}), 403, "ACCESS_DENIED")
    other = admin.post("/calendars", json={"name": "Other"}).json()
    limited = Api(server, ws, make_token(server, "alice", ws, "calendars:admin",
                                         "--calendars", str(calendar["id"])))
    assert_problem(limited.post("/webhooks", json={"url": url}), 403, "ACCESS_DENIED")
    assert_problem(limited.post("/webhooks", json={"url": url, "calendarId": other["id"]}),
                   403, "TOKEN_DENIED")
    assert register(limited, url, calendarId=calendar["id"])["calendarId"] == calendar["id"]
    assert_problem(admin.post("/webhooks", json={"url": url, "eventTypes": ["x"]}),
                   400, "VALIDATION_ERROR", "eventTypes.0")
    hook = register(admin, url)
    assert admin.delete(f"/webhooks/{hook['id']}").json() == {"success": True, "id": hook["id"]}
    assert_problem(admin.get(f"/webhooks/{hook['id']}"), 404, "WEBHOOK_NOT_FOUND")


def test_webhook_urls_on_private_networks_are_refused_by_default(
        tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> None:
    srv = hook_server(tmp_path / "data", request, backend)
    try:
        admin, _ = workspace(srv)
        for url in ("http://127.0.0.1:9/x", "https://127.0.0.1/x", "https://10.0.0.8/x",
                    "https://[::1]/x", "https://169.254.169.254/latest/meta-data",
                    "ftp://example.com/x"):
            answer = admin.post("/webhooks", json={"url": url})
            assert_problem(answer, 400, "WEBHOOK_URL_REFUSED", "url")
        assert admin.get("/webhooks").json() == {"items": []}
        body = json.dumps({"url": "https://93.184.216.34/hook"})
        made = admin.post("/webhooks", data=body,
                                  headers={"Content-Type": "application/json"})
        assert made.status_code == 201, made.text
    finally:
        srv.stop()
