"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries, a fresh data directory,
a free loopback port, trust authentication, no fsync. `make test` installs the binaries."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

SUPERUSER = "calbridge"


def server_binaries() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian keeps one per major version)."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                        else 0)
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql: "
                           "run `make test`, which installs Debian's postgresql package")
    return candidates[-1].parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    """One cluster; each test server gets a database of its own from ``new_database_url``."""

    root: Path
    port: int = field(default_factory=_free_port)
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @classmethod
    def start(cls) -> PostgresCluster:
        cluster = cls(Path(tempfile.mkdtemp(prefix="calbridge-pg-")))
        cluster._run("initdb", "-D", str(cluster.data_dir), "-A", "trust", "-U", SUPERUSER,
                     "-E", "UTF8", "--no-sync", "--no-locale")
        options = (f"-p {cluster.port} -k {cluster.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=400")
        cluster._run("pg_ctl", "-D", str(cluster.data_dir), "-l", str(cluster.root / "log"),
                     "-o", options, "-w", "start")
        return cluster

    def _run(self, program: str, *args: str) -> None:
        command = [str(server_binaries() / program), *args]
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: hand the directory to the postgres user,
            # whom Debian's package creates.
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.root / "log"
            raise RuntimeError(f"{program} failed: {result.stdout}{result.stderr}"
                               + (log.read_text() if log.exists() else ""))

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database_url(self) -> str:
        name = f"calbridge_{next(self._names)}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
