"""Failed logins are throttled per address and per user on both doors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests

from tests.conftest import PASSWORD, Server

WINDOW = 6


def test_twenty_bad_attempts_get_429_until_the_window_passes(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", extra_env={
        "CALBRIDGE_SECURITY_AUTH_FAILURE_WINDOW": str(WINDOW),
        "CALBRIDGE_SECURITY_AUTH_DELAY": "0"})
    server.start()
    try:
        server.add_user("alice")
        workspace = json.loads(server.cli("workspace", "create", "W", "--owner", "alice",
                                          "--json").stdout)["uuid"]
        token = json.loads(server.cli("token", "create", "--user", "alice", "--workspace",
                                      workspace, "--scopes", "calendars:read",
                                      "--json").stdout)["token"]
        api = f"{server.url}/api/access/token"
        caldav = f"{server.url}/alice/"
        started = time.monotonic()
        for attempt in range(20):
            if attempt % 2:
                bad = requests.get(api, headers={"Authorization": "Bearer cb_0_wrong"})
            else:
                bad = requests.request("PROPFIND", caldav, auth=("alice", "wrong-password"))
            assert bad.status_code == 401
        # Both doors now refuse even the right credentials, and say when to come back.
        rest = requests.get(api, headers={"Authorization": f"Bearer {token}"})
        assert rest.status_code == 429 and rest.json()["code"] == "RATE_LIMITED"
        assert 0 < int(rest.headers["Retry-After"]) <= WINDOW
        dav = requests.request("PROPFIND", caldav, auth=("alice", PASSWORD))
        assert dav.status_code == 429 and int(dav.headers["Retry-After"]) <= WINDOW
        assert time.monotonic() - started < WINDOW, "the machine was too slow for the window"

        time.sleep(WINDOW + 1)
        assert requests.get(api, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert requests.request("PROPFIND", caldav, auth=("alice", PASSWORD),
                                headers={"Depth": "0"}).status_code == 207
    finally:
        server.stop()
