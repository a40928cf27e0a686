"""Test harness: a real `calbridge serve` on a free loopback port, real clients against it."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.postgres import PostgresCluster

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery"
# The stores the CalDAV, concurrency, durability, import and mail tests run against: the
# embedded default and the scale path, a PostgreSQL cluster this test run starts itself.
BACKENDS = ("sqlite", "postgresql")


# Account commands the tests run in their own process (Server.cli); the others (serve, import
# with its worker processes, maintenance, migrations of Radicale folders, mail) in a child.
IN_PROCESS_COMMANDS = frozenset({"user", "workspace", "token"})


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
    def dialect(self) -> str:
        url = self.extra_env.get("CALBRIDGE_STORAGE_DATABASE_URL", "sqlite")
        return url.split(":", 1)[0].split("+", 1)[0]

    @property
    def database_url(self) -> str:
        return self.extra_env.get("CALBRIDGE_STORAGE_DATABASE_URL",
                                  f"sqlite:///{self.data_dir / 'calbridge.sqlite3'}")

    def stored_cells(self, skip: Collection[str] = ()) -> list[str]:
        """Every value of every table of this server's store, as text; ``skip`` names columns
        ("table.column") that a read may write, such as a token's last use."""
        engine = sa.create_engine(self.database_url)
        try:
            metadata = sa.MetaData()
            metadata.reflect(engine)
            kept = [[c for c in table.columns if f"{table.name}.{c.name}" not in skip]
                    for table in metadata.sorted_tables]
            with engine.connect() as conn:
                return [str(value) for columns in kept if columns
                        for row in conn.execute(sa.select(*columns)) for value in row]
        finally:
            engine.dispose()

    def execute(self, statement: sa.Executable) -> int:
        """Run one statement on this server's store (for a test to move stored times back,
        as if the clock had moved on); returns the rows it touched."""
        engine = sa.create_engine(self.database_url)
        try:
            with engine.begin() as conn:
                return conn.execute(statement).rowcount
        finally:
            engine.dispose()

    def count(self, table: sa.Table) -> int:
        """The number of rows of one table of this server's store."""
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        finally:
            engine.dispose()

    def stored_bytes(self) -> bytes:
        """The SQLite store's files as they are on disk (b"" on another engine)."""
        if self.dialect != "sqlite":
            return b""
        return b"".join(p.read_bytes() for p in self.data_dir.glob("calbridge.sqlite3*"))

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CALBRIDGE_STORAGE_DATA_DIR": str(self.data_dir),
                "CALBRIDGE_SERVER_PORT": str(self.port), "CALBRIDGE_CONFIG": "",
                **self.extra_env}

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        if args and args[0] in IN_PROCESS_COMMANDS:
            return self._cli_here(args, stdin)
        return subprocess.run([sys.executable, "-m", "bridge.cli", *args], cwd=ROOT, env=self.env,
                              input=stdin, capture_output=True, text=True, check=False)

    def _cli_here(self, args: tuple[str, ...], stdin: str | None) -> subprocess.CompletedProcess:
        """The command run in this process: the same ``main`` without a Python start-up (half
        a second, paid thousands of times a suite), its engine's idle connections closed."""
        from bridge import cli
        from bridge.core.recurrence import install_step_cap, step_cap
        from bridge.store.engine import get_engine

        out, err, cap = io.StringIO(), io.StringIO(), step_cap()
        saved_stdin = sys.stdin
        sys.stdin = io.StringIO(stdin or "")
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = cli.main(list(args), environ=self.env)
                except SystemExit as exc:  # argparse refusals
                    code = exc.code if isinstance(exc.code, int) else 2
        finally:
            sys.stdin = saved_stdin
            install_step_cap(cap)
            get_engine(self.database_url).dispose()
        return subprocess.CompletedProcess(["calbridge", *args], code, out.getvalue(),
                                           err.getvalue())

    def start(self, timeout: float = 30) -> None:
        self.log_path = self.data_dir / f"server-{self.port}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen([sys.executable, "-m", "bridge.cli", "serve"],
                                            cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()}")
            try:
                if requests.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return
            # With --workers, gunicorn's master accepts before a worker can answer.
            except (requests.ConnectionError, requests.Timeout):
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


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster.start()
    yield cluster
    cluster.stop()


def store_env(request: pytest.FixtureRequest, backend: str) -> dict[str, str]:
    """The environment that gives a new server an empty store of its own on ``backend``.
    The cluster starts on first use, so a run of SQLite tests alone never starts it."""
    if backend == "sqlite":
        return {}
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return {"CALBRIDGE_STORAGE_DATABASE_URL": cluster.new_database_url()}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
           backend: str) -> Iterator[Server]:
    """A server shared by the tests that only add their own calendars."""
    srv = Server(tmp_path_factory.mktemp(f"calbridge-shared-{backend}"),
                 extra_env=store_env(request, backend))
    srv.start()
    srv.add_user("alice")
    srv.add_user("bob")
    yield srv
    srv.stop()


@pytest.fixture
def own_server(tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> Iterator[Server]:
    """A server of the test's own, for tests that restart it or inspect its database."""
    srv = Server(tmp_path / "data", extra_env=store_env(request, backend))
    srv.start()
    srv.add_user("alice")
    yield srv
    srv.stop()


QUIET_AUTH = {"CALBRIDGE_SECURITY_AUTH_DELAY": "0",
              "CALBRIDGE_SECURITY_AUTH_MAX_FAILURES": "100000",
              "CALBRIDGE_SECURITY_AUTH_MAX_FAILURES_PER_ADDRESS": "100000"}


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
               backend: str) -> Iterator[Server]:
    """A server per test module for the REST API tests (users alice, bob, mallory), without
    the anti-enumeration delay and login throttle, which these tests trigger on purpose."""
    srv = Server(tmp_path_factory.mktemp(f"api-{backend}"),
                 extra_env={**QUIET_AUTH, **store_env(request, backend)})
    srv.start()
    for user in ("alice", "bob", "mallory"):
        srv.add_user(user)
    yield srv
    srv.stop()
