"""Database engines and transactions.

This is the one place that knows which SQL engine is underneath: SQLite pragmas and
BEGIN IMMEDIATE, PostgreSQL advisory locks. Everything else is portable SQLAlchemy Core.

Decisions:
- ``Database`` is the transaction provider every repository takes (``read()``,
  ``write(*lock_paths)``, the request scope); ``Transactions`` is the part of it a repository
  uses, so a ``CalendarStore`` (which has the same two methods) still fits where one is taken.
- Transactions are ambient (a context variable): a repository called inside another's
  transaction joins it, so one write spans several repositories.
"""

from __future__ import annotations

import contextvars
import hashlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: str) -> Engine:
    """One engine per URL per process (Radicale builds its Storage twice)."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create_engine(url)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _create_sqlite_engine(url)
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


# --- SQLite-specific: the only SQLite-only code of the store ---------------------------------

def _create_sqlite_engine(url: str) -> Engine:
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url, connect_args={"timeout": 60, "check_same_thread": False}, pool_size=20,
        max_overflow=20,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event emit BEGIN itself, so writers can use BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A write transaction takes the database write lock up front: a check-then-write
        # sequence can then never be interleaved with another process's write.
        write = conn.get_execution_options().get("calbridge_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _lock_keys(engine: Engine, conn: Connection, lock_paths: Sequence[str]) -> None:
    if engine.dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already serializes writers.
    for path in sorted(set(lock_paths)):
        key = int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big", signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


SCHEMA_LOCK = "calbridge:schema"


def lock_schema(conn: Connection) -> None:
    """Serialize schema migrations for the rest of ``conn``'s transaction: N processes starting
    on one new database (``serve --workers``, a server beside ``calbridge maintenance``) would
    otherwise each create the same tables, and all but one fail. SQLite's BEGIN IMMEDIATE (the
    migration runs as a write) already does it."""
    _lock_keys(conn.engine, conn, [SCHEMA_LOCK])


# ---------------------------------------------------------------------------------------------

@dataclass
class Transaction:
    """The ambient transaction of the current thread (or task)."""

    conn: Connection
    write: bool
    # collection id -> revision already allocated in this transaction
    revisions: dict[int, int] = field(default_factory=dict)
    # What a repository looked up once for the whole transaction (e.g. who listens to a change).
    memo: dict[str, Any] = field(default_factory=dict)


_current: contextvars.ContextVar[Transaction | None] = contextvars.ContextVar(
    "calbridge_transaction", default=None
)


def lock_path_for(path: str) -> str:
    """The lock scope of a store path: its collection (owner/name), or the principal."""
    parts = [p for p in path.strip("/").split("/") if p]
    return "/".join(parts[:2])


@contextmanager
def transaction(
    engine: Engine, write: bool, lock_paths: Sequence[str] = ("",)
) -> Iterator[Transaction]:
    """Run in the ambient transaction if there is one, else in a new one.

    A write inside an ambient read transaction is a programming error: upgrading a SQLite
    read transaction to a write one can deadlock, so it is refused loudly.
    """
    ambient = _current.get()
    if ambient is not None:
        if write and not ambient.write:
            raise RuntimeError("write requested inside a read transaction")
        yield ambient
        return
    shared = _request_connection.get()
    owned = shared is None or shared.engine is not engine
    conn = engine.connect() if owned else shared.connection()  # type: ignore[union-attr]
    conn = conn.execution_options(calbridge_write=write)
    try:
        with conn.begin():
            if write:
                _lock_keys(engine, conn, [lock_path_for(p) for p in lock_paths])
            tx = Transaction(conn=conn, write=write)
            token = _current.set(tx)
            try:
                yield tx
            finally:
                _current.reset(token)
    finally:
        if owned:
            conn.close()


class RequestConnection:
    """One pooled connection for the successive transactions of one HTTP request: one pool
    checkout (and, on PostgreSQL, one pre-ping) per request instead of one per transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    def connection(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


_request_connection: contextvars.ContextVar[RequestConnection | None] = contextvars.ContextVar(
    "calbridge_request_connection", default=None
)


@contextmanager
def request_scope(engine: Engine) -> Iterator[None]:
    """Let the transactions run inside this block share one connection. A body streamed after
    the block ends (a generator) opens its own, as before."""
    if _request_connection.get() is not None:
        yield
        return
    shared = RequestConnection(engine)
    token = _request_connection.set(shared)
    try:
        yield
    finally:
        _request_connection.reset(token)
        shared.close()


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The primary key an INSERT of one row generated."""
    key = result.inserted_primary_key
    assert key is not None, "not an INSERT of one row"
    return int(key[0])


def current_transaction() -> Transaction | None:
    """The ambient transaction of this thread (or task), if any."""
    return _current.get()


class Transactions(Protocol):
    """What a repository needs of the database: a read and a locked write transaction."""

    def read(self) -> AbstractContextManager[Connection]: ...

    def write(self, *lock_paths: str) -> AbstractContextManager[Connection]: ...

    def side_write(self, *lock_paths: str) -> AbstractContextManager[Connection]: ...


class Database:
    """The transaction provider over one engine (see ``transaction`` and ``request_scope``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with transaction(self.engine, write=False) as tx:
            yield tx.conn

    @contextmanager
    def write(self, *lock_paths: str) -> Iterator[Connection]:
        """A write transaction holding the locks of ``lock_paths`` (the global one if none)."""
        with transaction(self.engine, write=True, lock_paths=lock_paths or ("",)) as tx:
            yield tx.conn

    @contextmanager
    def side_write(self, *lock_paths: str) -> Iterator[Connection]:
        """A write on a connection of its own when the ambient transaction is a read (else
        ``write``): bookkeeping a read does for later reads (widening the index), which the
        read itself does not see. WAL on SQLite and MVCC on PostgreSQL let it commit while the
        read is open; the read holds no lock a writer waits for."""
        ambient = _current.get()
        if ambient is None or ambient.write:
            with self.write(*lock_paths) as conn:
                yield conn
            return
        outer, shared = _current.set(None), _request_connection.set(None)
        try:
            with self.write(*lock_paths) as conn:
                yield conn
        finally:
            _request_connection.reset(shared)
            _current.reset(outer)

    def request_scope(self) -> AbstractContextManager[None]:
        return request_scope(self.engine)

    def ping(self) -> str:
        """The dialect's name once a trivial query answered (raises what the driver raises)."""
        with self.read() as conn:
            conn.execute(sa.text("SELECT 1"))
        return self.engine.dialect.name

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read transaction on a connection of its own, not the ambient one: for a
        generator that outlives the call that made it (a streamed response body)."""
        conn = self.engine.connect().execution_options(calbridge_write=False)
        try:
            with conn.begin():
                yield conn
        finally:
            conn.close()
