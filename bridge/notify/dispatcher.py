"""The dispatcher: every ``push.interval`` seconds, take the notices the write path left,
send one push message per subscription of each calendar that changed (the interval's changes
coalesced into the newest sync token), and deliver the due webhooks.

Each server process runs one (as it runs the outbox sender); notices and deliveries are
claimed in the database, so N processes never send one twice.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict

import requests

from bridge.notify import push
from bridge.notify.service import PushService, WebhookSettings
from bridge.notify.targets import TargetRefused
from bridge.notify.webhooks import deliver
from bridge.store.accounts import Accounts
from bridge.store.engine import Transactions
from bridge.store.notify import Notice, Notices, PushSubscription
from bridge.store.records import SYNC_TOKEN_PREFIX

log = logging.getLogger(__name__)


def sync_token(collection_id: int, revision: int) -> str:
    return f"{SYNC_TOKEN_PREFIX}{collection_id}-{revision}"


class Dispatcher:
    def __init__(self, db: Transactions, pushes: PushService, hooks: WebhookSettings) -> None:
        self.notices = Notices(db)
        self.pushes = pushes
        self.hooks = hooks
        self.webhooks = hooks.repository(db)
        self.accounts = Accounts(db)
        self._workspaces: dict[int, str] = {}

    def run_once(self) -> tuple[int, int]:
        """One pass: (push messages sent, webhook deliveries made)."""
        sent = 0
        while True:
            notices = self.notices.take(self.payload)
            sent += self.push(notices)
            if len(notices) < 500:
                break
        delivered = 0
        while True:
            due = self.webhooks.claim_due()
            delivered += sum(deliver(self.webhooks, d, e, self.hooks.targets, self.hooks.timeout)
                             for d, e in due)
            if not due:
                break
        return sent, delivered

    def payload(self, notice: Notice) -> dict[str, object]:
        data: dict[str, object] = {"workspaceId": self._workspace_uuid(notice.workspace_id),
                                   "calendarId": notice.collection_id}
        if notice.public_id is not None:
            data["eventId"] = notice.public_id
        if notice.kind != "calendar.deleted":
            data["syncToken"] = sync_token(notice.collection_id, notice.revision)
        return data

    def _workspace_uuid(self, workspace_id: int | None) -> str | None:
        if workspace_id is None:
            return None
        if workspace_id not in self._workspaces:
            workspace = self.accounts.get_workspace(workspace_id)
            if workspace is None:
                return None
            self._workspaces[workspace_id] = workspace.uuid
        return self._workspaces[workspace_id]

    def push(self, notices: list[Notice]) -> int:
        changed: dict[int, list[Notice]] = defaultdict(list)
        for notice in notices:
            if notice.push:
                changed[notice.collection_id].append(notice)
        sent = 0
        for subscription in self.pushes.subscriptions.active_on(changed):
            sent += self._push_one(subscription, changed[subscription.collection_id])
        return sent

    def _push_one(self, subscription: PushSubscription, notices: list[Notice]) -> int:
        heard = [n for n in notices
                 if "*" not in n.dont_notify and subscription.id not in n.dont_notify]
        content = subscription.content_update and any(n.kind.startswith("event.")
                                                      for n in heard)
        properties = subscription.property_update and any(n.kind == "calendar.updated"
                                                          for n in heard)
        if not (content or properties):
            return 0
        keys = self.pushes.keys
        topic = keys.topic(subscription.collection_id)
        newest = max(n.revision for n in notices)
        body = push.push_message(topic, sync_token(subscription.collection_id, newest)
                                 if content else None, properties)
        settings = self.pushes.settings
        try:
            status = push.send(keys, subscription, topic, body, settings.targets, settings.ttl,
                               settings.timeout)
        except push.Gone:
            self.pushes.subscriptions.remove(subscription.id)
            return 0
        except (TargetRefused, requests.RequestException) as exc:
            log.warning("push to %s failed: %s", subscription.push_resource, exc)
            return 0
        if not 200 <= status < 300:
            log.warning("push to %s answered %s", subscription.push_resource, status)
            return 0
        return 1


class DispatcherThread(threading.Thread):
    def __init__(self, dispatcher: Dispatcher, interval: float) -> None:
        super().__init__(name="calbridge-notify", daemon=True)
        self.dispatcher = dispatcher
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.dispatcher.run_once()
            except Exception:  # a bad pass must not end notifications for the process
                log.exception("notification pass failed")

    def stop(self) -> None:
        self.stopping.set()
