"""Test harness: a real `calbridge serve` on a free loopback port, real clients against it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """One calbridge server process over one data directory."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CALBRIDGE_STORAGE_DATA_DIR": str(self.data_dir),
                "CALBRIDGE_SERVER_PORT": str(self.port), "CALBRIDGE_CONFIG": "",
                **self.extra_env}

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bridge.cli", *args], cwd=ROOT, env=self.env,
                              input=stdin, capture_output=True, text=True, check=False)

    def start(self) -> None:
        self.log_path = self.data_dir / f"server-{self.port}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen([sys.executable, "-m", "bridge.cli", "serve"],
                                            cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()}")
            try:
                if requests.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def add_user(self, username: str, email: str | None = None) -> None:
        result = self.cli("user", "add", username, "--email", email or f"{username}@example.com",
                          "--password-stdin", stdin=PASSWORD + "\n")
        assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server shared by the tests that only add their own calendars."""
    srv = Server(tmp_path_factory.mktemp("calbridge-shared"))
    srv.start()
    srv.add_user("alice")
    srv.add_user("bob")
    yield srv
    srv.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own, for tests that restart it or inspect its database."""
    srv = Server(tmp_path / "data")
    srv.start()
    srv.add_user("alice")
    yield srv
    srv.stop()


QUIET_AUTH = {"CALBRIDGE_SECURITY_AUTH_DELAY": "0",
              "CALBRIDGE_SECURITY_AUTH_MAX_FAILURES": "100000"}


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server per test module for the REST API tests (users alice, bob, mallory), without
    the anti-enumeration delay and login throttle, which these tests trigger on purpose."""
    srv = Server(tmp_path_factory.mktemp("api"), extra_env=QUIET_AUTH)
    srv.start()
    for user in ("alice", "bob", "mallory"):
        srv.add_user(user)
    yield srv
    srv.stop()
