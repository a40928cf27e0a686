"""Maintenance: the horizon rolls without holding up the start or looping on capped series,
the change log is floored past its retention, and dead rows are purged."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from bridge.config import load_settings
from bridge.store.maintenance import DAY, MaintenancePolicy, run_maintenance
from bridge.store.outbox import Outbox
from bridge.store.schema import (
    auth_failure,
    calendar_object,
    change,
    idempotency_key,
    occurrence,
    outbox_message,
)
from bridge.store.store import CalendarStore
from bridge.wsgi import open_configured_store
from tests.api_helpers import Api, cli_json, make_token
from tests.caldav_data import FOOTER, HEADER
from tests.conftest import PASSWORD, Server, store_env
from tests.test_events_api import EVENTS, sync_changes

CAPPED_SERIES = 500  # the old start-up roll read them in batches of 500, forever
MAX_PER_SERIES = 20


@contextmanager
def store_of(server: Server) -> Iterator[CalendarStore]:
    """The server's store opened in this process, configured as the server is."""
    store = open_configured_store(load_settings(environ=server.env))
    try:
        yield store
    finally:
        store.engine.dispose()


def series_file(path: Path) -> Path:
    """500 monthly series from two years ago (36 instances in the default window: capped at
    20) and one yearly series (3 instances: not capped), all without end."""
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=730)).strftime("%Y%m%dT090000Z")
    events = [
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\n"
        f"DURATION:PT1H\r\nRRULE:FREQ={freq}\r\nSUMMARY:{uid}\r\nEND:VEVENT\r\n"
        for uid, freq in [(f"monthly-{i}", "MONTHLY") for i in range(CAPPED_SERIES)]
        + [("yearly", "YEARLY")]
    ]
    path.write_text(HEADER + "".join(events) + FOOTER)
    return path


def rows_by_object(store: CalendarStore) -> dict[str, tuple[int, int]]:
    """uid -> (number of occurrence rows, latest start)."""
    with store.read() as conn:
        return {uid: (count, latest) for uid, count, latest in conn.execute(
            sa.select(calendar_object.c.uid, sa.func.count(), sa.func.max(occurrence.c.start_ts))
            .join(occurrence, occurrence.c.object_id == calendar_object.c.id)
            .group_by(calendar_object.c.uid))}


def test_capped_series_neither_hold_up_the_start_nor_roll_forever(
        tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> None:
    server = Server(tmp_path / "data", extra_env={
        "CALBRIDGE_STORAGE_INDEX_MAX_PER_SERIES": str(MAX_PER_SERIES),
        **store_env(request, backend)})
    server.add_user("alice")
    imported = cli_json(server, "import", "/alice/series/", str(series_file(tmp_path / "s.ics")))
    assert imported["imported"] == CAPPED_SERIES + 1
    server.start(timeout=10)  # answers /api/health within 10 s, or raises
    try:
        with store_of(server) as store:
            before = rows_by_object(store)
            assert {count for uid, (count, _) in before.items() if uid != "yearly"} \
                == {MAX_PER_SERIES}
            revision = store.get_collection("alice/series").revision

            # A year and a month later every series is due once: each gets rows further on,
            # capped ones again stop at the cap, and a rebuilt series is not due again.
            later = int(time.time()) + 400 * DAY
            report = run_maintenance(store, MaintenancePolicy(), now=later)
            assert (report.series_reindexed, report.series_capped, report.series_skipped) \
                == (CAPPED_SERIES + 1, CAPPED_SERIES, 0)
            after = rows_by_object(store)
            assert all(after[uid][1] > latest for uid, (_, latest) in before.items())
            assert after["monthly-0"][0] == MAX_PER_SERIES
            assert run_maintenance(store, MaintenancePolicy(), now=later).series_reindexed == 0
            # Rebuilding an index is no change of the calendar: no sync noise for clients.
            assert store.get_collection("alice/series").revision == revision
        assert requests.get(f"{server.url}/api/health", timeout=30).status_code == 200
    finally:
        server.stop()


def refused_sync(url: str, token: str) -> requests.Response:
    body = ('<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>'
            f"{token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/>"
            "</D:prop></D:sync-collection>")
    return requests.request("REPORT", url, data=body, auth=("alice", PASSWORD), timeout=30,
                            headers={"Content-Type": "text/xml"})


PURGED = (change, idempotency_key, auth_failure, outbox_message)


def test_maintenance_past_the_retention_refuses_old_sync_tokens_and_purges_dead_rows(
        tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> None:
    server = Server(tmp_path / "data", extra_env={"CALBRIDGE_SECURITY_AUTH_DELAY": "0",
                                                  **store_env(request, backend)})
    server.add_user("alice")
    workspace = cli_json(server, "workspace", "create", "W", "--owner", "alice")["uuid"]
    api = Api(server, workspace, make_token(server, "alice", workspace, "calendars:admin"))
    server.start()
    try:
        calendar = api.post("/calendars", json={"name": "Work"}).json()
        url = calendar["caldavUrl"]

        def create(summary: str) -> None:
            """An event with an attendee: a change, an idempotency key and a mail."""
            answer = api.post(EVENTS, headers={"Idempotency-Key": uuid.uuid4().hex}, json={
                "calendarId": calendar["id"], "summary": summary, "attendees": ["d@example.org"],
                "from": "2026-12-10T09:00:00Z", "to": "2026-12-10T10:00:00Z"})
            assert answer.status_code == 201, answer.text

        create("first")
        old_token, _, _ = sync_changes(url, "")
        create("second")
        create("third")
        floor_token, _, _ = sync_changes(url, "")
        assert requests.request("PROPFIND", f"{server.url}/alice/", timeout=30,
                                auth=("alice", "wrong-password")).status_code == 401
        with store_of(server) as store:
            outbox = Outbox(store)
            for message in outbox.claim_due(limit=100):
                outbox.mark_sent(message.id)
        # All of that happened 40 days ago, as far as the store can tell.
        ago = 40 * DAY
        server.execute(change.update().values(changed_at=change.c.changed_at - ago))
        server.execute(idempotency_key.update().values(created_at=idempotency_key.c.created_at
                                                       - ago))
        server.execute(auth_failure.update().values(window_start=auth_failure.c.window_start
                                                    - ago))
        server.execute(outbox_message.update().values(sent_at=outbox_message.c.sent_at - ago))
        create("fresh")
        before = {table.name: server.count(table) for table in PURGED}

        report = cli_json(server, "maintenance")
        after = {table.name: server.count(table) for table in PURGED}
        assert (before, after) == (
            {"change": 4, "idempotency_key": 4, "auth_failure": 2, "outbox_message": 4},
            {"change": 1, "idempotency_key": 1, "auth_failure": 0, "outbox_message": 1})
        assert report == {
            "series_reindexed": 0, "series_capped": 0, "series_skipped": 0,
            "collections_floored": 1, "change_rows_deleted": 3, "idempotency_keys_deleted": 3,
            "auth_failures_deleted": 2, "sent_messages_deleted": 3,
            "push_subscriptions_expired": 0, "webhook_deliveries_deleted": 0}

        # A token from before the floor must start over; one at the floor is answered exactly.
        refused = refused_sync(url, old_token)
        assert refused.status_code == 403 and "valid-sync-token" in refused.text
        new_token, changed, deleted = sync_changes(url, floor_token)
        assert len(changed) == 1 and not deleted
        assert sync_changes(url, new_token)[1:] == (set(), set())
    finally:
        server.stop()


def test_serve_runs_maintenance_in_the_background(
        tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> None:
    server = Server(tmp_path / "data", extra_env={
        "CALBRIDGE_MAINTENANCE_INTERVAL": "0.5", "CALBRIDGE_SECURITY_AUTH_DELAY": "0",
        **store_env(request, backend)})
    server.add_user("alice")
    server.start()
    try:
        assert requests.request("PROPFIND", f"{server.url}/alice/", timeout=30,
                                auth=("alice", "wrong-password")).status_code == 401
        assert server.count(auth_failure) == 2
        server.execute(auth_failure.update().values(window_start=auth_failure.c.window_start
                                                    - DAY))
        deadline = time.monotonic() + 60  # a bound against hanging, not a speed claim
        while server.count(auth_failure) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert server.count(auth_failure) == 0
    finally:
        server.stop()
