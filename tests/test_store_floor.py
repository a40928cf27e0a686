"""The database floor in-process: the store built once from explicit settings, and the
repositories over a bare transaction provider (no CalendarStore), on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from radicale import config as radicale_config

from bridge.config import load_settings
from bridge.core.index import IndexPolicy, InvalidObject
from bridge.core.limits import Limits
from bridge.store.accounts import Accounts
from bridge.store.engine import Database, get_engine
from bridge.store.feeds import FeedTokens
from bridge.store.idempotency import IdempotencyKeys
from bridge.store.migrate import upgrade
from bridge.store.outbox import Outbox, OutgoingMessage
from bridge.store.records import StoreSettings
from bridge.store.store import CalendarStore
from bridge.store.throttle import LoginThrottle
from bridge.wsgi import open_configured_store
from radicale_plugin.store_factory import open_store, store_from_radicale_config
from tests import caldav_data as data
from tests.conftest import ROOT, store_env


@pytest.fixture
def database_url(tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> str:
    env = store_env(request, backend)
    return env.get("CALBRIDGE_STORAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'floor.sqlite3'}")


def radicale_configuration(url: str) -> radicale_config.Configuration:
    configuration = radicale_config.load()
    # The plugin's own options are known once its type is set (as bridge.wsgi does).
    configuration.update({"storage": {"type": "radicale_plugin.storage"}}, "test",
                         privileged=True)
    configuration.update({"storage": {"calbridge_database_url": url}}, "test", privileged=True)
    return configuration


def test_the_store_is_built_once_from_its_settings_and_the_plugin_finds_it(
        database_url: str) -> None:
    settings = StoreSettings(policy=IndexPolicy(past_days=10), max_object_bytes=5000,
                             limits=Limits(max_instances=99))
    store = open_store(database_url, settings)
    assert store.settings is settings and store.limits.max_instances == 99
    assert open_store(database_url, StoreSettings(policy=IndexPolicy(past_days=10),
                                                  max_object_bytes=5000,
                                                  limits=Limits(max_instances=99))) is store
    assert open_store(database_url) is store
    assert store_from_radicale_config(radicale_configuration(database_url)) is store
    with pytest.raises(InvalidObject, match="larger than 5000 bytes"):
        store.prepare(data.single_event("x" * 6000, "20261201T100000Z", "20261201T110000Z"))

    other = open_store(database_url, StoreSettings())
    assert other is not store and store.settings.max_object_bytes == 5000  # never changed
    assert store_from_radicale_config(radicale_configuration(database_url)) is other


def test_the_composition_root_reads_the_settings_once(database_url: str, tmp_path: Path
                                                      ) -> None:
    settings = load_settings(environ={
        "CALBRIDGE_STORAGE_DATABASE_URL": database_url,
        "CALBRIDGE_STORAGE_DATA_DIR": str(tmp_path),
        "CALBRIDGE_STORAGE_MAX_OBJECT_BYTES": "123456",
        "CALBRIDGE_STORAGE_INDEX_FUTURE_DAYS": "77",
        "CALBRIDGE_LIMITS_MAX_INSTANCES": "321",
        "CALBRIDGE_INPUT_MAX_PROPERTY_BYTES": "4321"})
    store = open_configured_store(settings)
    assert open_configured_store(settings) is store
    assert (store.settings.max_object_bytes, store.settings.policy.future_days) == (123456, 77)
    assert store.limits.max_instances == 321
    assert store.settings.property_policy.max_bytes == 4321


def test_repositories_take_a_bare_database_and_share_its_transactions(database_url: str
                                                                      ) -> None:
    engine = get_engine(database_url)
    upgrade(engine)
    db = Database(engine)
    accounts = Accounts(db)
    alice = accounts.add_user("alice", "alice@example.org", "password1")
    store = CalendarStore(db)
    calendar, _, _ = store.create_collection("alice/work", {"tag": "VCALENDAR"})
    token, feed = FeedTokens(db).create(calendar.id)
    assert FeedTokens(db).resolve(token) == feed
    throttle = LoginThrottle(db)
    keys = throttle.keys("192.0.2.1", "alice")
    throttle.record_failure(keys)
    assert throttle.retry_after(keys) == 0  # one failure is far below the limit
    assert IdempotencyKeys(db).find(1, "key") is None
    outbox = Outbox(db)

    class Abort(Exception):
        pass

    # One write transaction spans the repositories: an error undoes all of it.
    with pytest.raises(Abort), db.write("alice/work", ".outbox"):
        store.put_object(calendar.id, "a.ics", store.prepare(
            data.single_event("a", "20261201T100000Z", "20261201T110000Z")))
        outbox.enqueue(OutgoingMessage(method="REQUEST", event_uid="a", sender=alice.email,
                                       recipients=("bob@example.org",), subject="s",
                                       body_text="b", calendar_text="c"))
        raise Abort
    assert store.get_objects(calendar.id) == [] and outbox.messages() == []


MIGRATE_WHEN_TOLD = """
import sys, time
from pathlib import Path
from bridge.store.engine import get_engine
from bridge.store.migrate import upgrade
engine = get_engine(sys.argv[1])
go = Path(sys.argv[2])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
upgrade(engine)
"""


def test_processes_migrating_one_new_database_at_once_all_succeed(database_url: str,
                                                                  tmp_path: Path) -> None:
    """`serve --workers N` starts N processes on a new database together: each migrates it."""
    go = tmp_path / "go"
    processes = [subprocess.Popen([sys.executable, "-c", MIGRATE_WHEN_TOLD, database_url,
                                   str(go)], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    go.touch()
    results = [process.communicate(timeout=120) for process in processes]
    assert [(process.returncode, err) for process, (_, err) in zip(processes, results,
                                                                   strict=True)
            ] == [(0, "")] * 4
    with get_engine(database_url).connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    assert len(versions) == 1
