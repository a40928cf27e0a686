"""Periodic maintenance of the store: roll the occurrence horizon, raise each change log's
floor past its retention, purge rows nobody will read again.

``calbridge serve`` runs it in a background thread every ``maintenance.interval`` seconds
(the first run after the server listens); ``calbridge maintenance`` runs it once, for cron.
Every step works in bounded batches of short transactions, so the doors keep serving, and
every step terminates: the horizon's cursor only moves forward and a rebuilt object is due
again only later than the run's ``now``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import asdict, dataclass

import sqlalchemy as sa

from bridge.core.index import InvalidObject
from bridge.core.times import now_ts
from bridge.store.engine import Transactions
from bridge.store.idempotency import RETENTION_SECONDS as IDEMPOTENCY_RETENTION_SECONDS
from bridge.store.notify import PushSubscriptions, Webhooks
from bridge.store.objects import Objects
from bridge.store.records import NotFound
from bridge.store.schema import (
    auth_failure,
    calendar_object,
    change,
    collection,
    idempotency_key,
    outbox_message,
)
from bridge.store.store import CalendarStore

log = logging.getLogger(__name__)

DAY = 86400


@dataclass(frozen=True)
class MaintenancePolicy:
    change_log_retention_seconds: int = 30 * DAY
    sent_mail_retention_seconds: int = 30 * DAY
    # A login failure counts only within the throttle's window; past it the row is dead.
    auth_failure_window_seconds: int = 300
    idempotency_retention_seconds: int = IDEMPOTENCY_RETENTION_SECONDS
    delivered_webhook_retention_seconds: int = 30 * DAY
    batch_size: int = 500


@dataclass
class MaintenanceReport:
    series_reindexed: int = 0
    series_capped: int = 0  # of those reindexed, how many stop at index_max_per_series
    series_skipped: int = 0  # changed meanwhile (already indexed) or no longer indexable
    collections_floored: int = 0
    change_rows_deleted: int = 0
    idempotency_keys_deleted: int = 0
    auth_failures_deleted: int = 0
    sent_messages_deleted: int = 0
    push_subscriptions_expired: int = 0
    webhook_deliveries_deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def run_maintenance(store: CalendarStore, policy: MaintenancePolicy,
                    now: int | None = None) -> MaintenanceReport:
    """One full pass at ``now`` (POSIX seconds; the clock by default)."""
    now = now_ts() if now is None else now
    report = MaintenanceReport()
    roll_horizon(store.objects, now, policy.batch_size, report)
    floor_change_logs(store.db, now - policy.change_log_retention_seconds, policy.batch_size,
                      report)
    purge_expired(store.db, now, policy, report)
    return report


def roll_horizon(objects: Objects, now: int, batch: int, report: MaintenanceReport) -> None:
    """Rebuild the index of every object due at ``now``, each once, in id order."""
    clock = dt.datetime.fromtimestamp(now, dt.UTC)
    cursor = 0
    while True:
        with objects.db.read() as conn:
            rows = conn.execute(
                sa.select(calendar_object.c.id, calendar_object.c.collection_id,
                          calendar_object.c.href, calendar_object.c.etag,
                          calendar_object.c.text, calendar_object.c.start_ts,
                          calendar_object.c.end_ts)
                .where(calendar_object.c.reindex_at <= now, calendar_object.c.id > cursor)
                .order_by(calendar_object.c.id).limit(batch)
            ).all()
        if not rows:
            return
        cursor = rows[-1].id
        for row in rows:
            try:
                prepared = objects.prepare(row.text, (row.start_ts, row.end_ts), now=clock)
            except InvalidObject:
                # Stored under older rules: its rows stay, and it is not tried every run.
                log.warning("cannot re-index %s in collection %s", row.href, row.collection_id)
                prepared = None
            try:
                rebuilt = objects.reindex(row.collection_id, row.href, row.etag, prepared)
            except NotFound:  # its calendar was deleted meanwhile
                rebuilt = False
            if rebuilt and prepared is not None:
                report.series_reindexed += 1
                report.series_capped += prepared.index.capped
            else:
                report.series_skipped += 1


def floor_change_logs(db: Transactions, cutoff: int, batch: int,
                      report: MaintenanceReport) -> None:
    """Per collection, raise ``log_floor`` to the newest revision logged before ``cutoff``
    and delete the log up to it: a sync token at the floor or later is still answered
    exactly, an older one gets valid-sync-token. The floor never passes the collection's
    revision, so the current token stays valid."""
    cursor = 0
    while True:
        with db.read() as conn:
            rows = conn.execute(
                sa.select(change.c.collection_id, collection.c.path,
                          sa.func.max(change.c.revision))
                .join(collection, collection.c.id == change.c.collection_id)
                .where(change.c.changed_at < cutoff, change.c.collection_id > cursor)
                .group_by(change.c.collection_id, collection.c.path)
                .order_by(change.c.collection_id).limit(batch)
            ).all()
        if not rows:
            return
        cursor = rows[-1][0]
        for collection_id, path, floor in rows:
            with db.write(path) as conn:
                conn.execute(collection.update().where(
                    collection.c.id == collection_id, collection.c.log_floor < floor,
                ).values(log_floor=floor))
                deleted = conn.execute(change.delete().where(
                    change.c.collection_id == collection_id, change.c.revision <= floor,
                )).rowcount
            report.collections_floored += 1
            report.change_rows_deleted += deleted


def purge_expired(db: Transactions, now: int, policy: MaintenancePolicy,
                  report: MaintenanceReport) -> None:
    """Delete idempotency keys past their retention (they are never replayed then), login
    failures whose window has passed (they no longer count) and delivered mail past its
    retention (failed mail stays for `calbridge outbox list`), expired push subscriptions and
    delivered webhooks past their retention. Each under the lock its writers take."""
    with db.write(".idempotency") as conn:
        report.idempotency_keys_deleted = conn.execute(idempotency_key.delete().where(
            idempotency_key.c.created_at <= now - policy.idempotency_retention_seconds
        )).rowcount
    with db.write(".throttle") as conn:
        report.auth_failures_deleted = conn.execute(auth_failure.delete().where(
            auth_failure.c.window_start <= now - policy.auth_failure_window_seconds
        )).rowcount
    with db.write(".outbox") as conn:
        report.sent_messages_deleted = conn.execute(outbox_message.delete().where(
            outbox_message.c.status == "sent",
            outbox_message.c.sent_at <= now - policy.sent_mail_retention_seconds,
        )).rowcount
    report.push_subscriptions_expired = PushSubscriptions(db).purge_expired(now)
    report.webhook_deliveries_deleted = Webhooks(db).purge_delivered(
        now - policy.delivered_webhook_retention_seconds)


class MaintenanceThread(threading.Thread):
    """Runs inside `calbridge serve`: one pass now, then one every ``interval`` seconds."""

    def __init__(self, store: CalendarStore, policy: MaintenancePolicy, interval: float
                 ) -> None:
        super().__init__(name="calbridge-maintenance", daemon=True)
        self.store, self.policy, self.interval = store, policy, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                report = run_maintenance(self.store, self.policy)
                log.info("maintenance: %s", report.as_dict())
            except Exception:  # the loop must outlive a database hiccup
                log.exception("maintenance pass failed")
            self.stopped.wait(self.interval)
