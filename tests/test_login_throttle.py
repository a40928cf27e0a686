"""Failed logins are throttled per (address, user) and (address, token) on both doors, and
never lock out the same user elsewhere nor other users behind the same address."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from bridge.store.schema import auth_failure
from tests.api_helpers import cli_json, make_token
from tests.conftest import PASSWORD, Server, store_env

BAD_LOGINS = 25  # more than security.auth_max_failures (20), far fewer than per address (200)


class SourceAddressAdapter(HTTPAdapter):
    """Connects from a chosen local address: all of 127/8 is this machine on Linux."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_at(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", SourceAddressAdapter(address))
    return session


@dataclass
class Door:
    """One login of one user on the CalDAV or the REST door, with the right or a wrong secret."""

    server: Server
    name: str
    tokens: dict[str, str]

    def login(self, http: requests.Session, user: str, right: bool = True,
              forwarded_for: str | None = None) -> int:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        if self.name == "caldav":
            password = PASSWORD if right else "wrong-password"
            return http.request("PROPFIND", f"{self.server.url}/{user}/", auth=(user, password),
                                headers={"Depth": "0", **headers}, timeout=30).status_code
        token = self.tokens[user]
        if not right:  # the same token prefix with a wrong secret
            token = token.rsplit("_", 1)[0] + "_" + "x" * 43
        return http.get(f"{self.server.url}/api/access/token", timeout=30,
                        headers={"Authorization": f"Bearer {token}", **headers}).status_code


OK = {"caldav": 207, "rest": 200}


@pytest.fixture(scope="module")
def throttled_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
                     backend: str) -> Iterator[tuple[Server, list[Door]]]:
    """A server with the default throttle (no anti-enumeration delay) behind a trusted proxy
    at 127.0.0.9, users alice and bob with a token each, and one door of each kind."""
    server = Server(tmp_path_factory.mktemp(f"throttle-{backend}"), extra_env={
        "CALBRIDGE_SECURITY_AUTH_DELAY": "0", "CALBRIDGE_SERVER_TRUSTED_PROXIES": "127.0.0.9",
        **store_env(request, backend)})
    for user in ("alice", "bob"):
        server.add_user(user)
    workspace = cli_json(server, "workspace", "create", "W", "--owner", "alice")["uuid"]
    cli_json(server, "workspace", "add-member", workspace, "bob")
    tokens = {user: make_token(server, user, workspace, "calendars:read")
              for user in ("alice", "bob")}
    server.start()
    try:
        yield server, [Door(server, name, tokens) for name in ("caldav", "rest")]
    finally:
        server.stop()


@pytest.fixture
def throttled(throttled_server: tuple[Server, list[Door]]) -> tuple[Server, list[Door]]:
    """The server with no failure counted yet."""
    throttled_server[0].execute(auth_failure.delete())
    return throttled_server


def test_bad_logins_for_alice_refuse_only_alice_at_that_address(
        throttled: tuple[Server, list[Door]]) -> None:
    server, doors = throttled
    here, there = client_at("127.0.0.1"), client_at("127.0.0.2")
    for door in doors:
        answers = [door.login(here, "alice", right=False) for _ in range(BAD_LOGINS)]
        assert set(answers[:20]) == {401} and set(answers[20:]) == {429}, (door.name, answers)
        # Alice from that address waits, even with the right secret, and is told how long;
        assert door.login(here, "alice") == 429, door.name
        # from another address she is in, and so is bob from the guesser's address.
        assert door.login(there, "alice") == OK[door.name], door.name
        assert door.login(here, "bob") == OK[door.name], door.name
    refused = here.request("PROPFIND", f"{server.url}/alice/", auth=("alice", PASSWORD))
    assert 0 < int(refused.headers["Retry-After"]) <= 300

    # Once the window has passed (moved back, as the clock would), alice is in again.
    server.execute(auth_failure.update().values(window_start=auth_failure.c.window_start - 300))
    for door in doors:
        assert door.login(here, "alice") == OK[door.name], door.name


def test_x_forwarded_for_names_the_client_only_from_a_trusted_proxy(
        throttled: tuple[Server, list[Door]]) -> None:
    _, doors = throttled
    proxy, direct = client_at("127.0.0.9"), client_at("127.0.0.1")
    for door in doors:
        # Through the trusted proxy, each forwarded client is counted on its own; entries
        # left of the proxy's own are the client's word and do not count.
        for attempt in range(20):
            assert door.login(proxy, "alice", right=False,
                              forwarded_for=f"192.0.2.{attempt}, 10.0.0.5") == 401
        assert door.login(proxy, "alice", forwarded_for="10.0.0.5") == 429, door.name
        assert door.login(proxy, "alice", forwarded_for="10.0.0.6") == OK[door.name], door.name

        # From anyone else the header is ignored: rotating it does not escape the count.
        for attempt in range(20):
            assert door.login(direct, "bob", right=False,
                              forwarded_for=f"10.1.0.{attempt}") == 401
        assert door.login(direct, "bob", forwarded_for="10.1.0.99") == 429, door.name
        assert door.login(proxy, "bob", forwarded_for="10.0.0.7") == OK[door.name], door.name


def test_an_overlong_user_name_is_counted_not_a_server_error(
        throttled: tuple[Server, list[Door]]) -> None:
    server, _ = throttled
    answer = requests.request("PROPFIND", f"{server.url}/alice/", timeout=30,
                              auth=("a" * 2000, "wrong-password"))
    assert answer.status_code == 401
    assert json.dumps(server.stored_cells()).count("pair:") == 1
