"""Change notifications in the database: the notices the one write path leaves, push
subscriptions, webhook endpoints with their durable delivery queue, and server secrets.

Decisions:
- The change log (``change``) is per calendar and read by sync; a *notice* is one line of it
  (or a calendar's creation, update or deletion) copied for the dispatcher in the same
  transaction, only when someone listens: a push subscription on that calendar or an enabled
  webhook endpoint in its workspace. A write nobody listens to costs one indexed lookup.
- Notices are consumed once (claimed and deleted in a write transaction), so several processes
  never announce one change twice, and no reader keeps a cursor that a slower concurrent
  commit could slip under.
- Webhook deliveries are queued in the transaction that consumes their notices: a crash after
  it loses nothing. They are claimed with a lease, like the mail outbox.
- ``PUSH_DONT_NOTIFY`` carries the CalDAV request's Push-Dont-Notify header to the write path
  (a context variable: the header lives in the door, the write below it).
"""

from __future__ import annotations

import base64
import contextvars
import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bridge.core.times import iso_z, now_ts
from bridge.store import leases
from bridge.store.engine import Transactions, current_transaction, inserted_id
from bridge.store.schema import collection
from bridge.store.schema_notify import (
    change_notice,
    push_subscription,
    server_secret,
    webhook_delivery,
    webhook_endpoint,
)

EVENT_KINDS = ("event.created", "event.updated", "event.deleted")
CALENDAR_KINDS = ("calendar.created", "calendar.updated", "calendar.deleted")
EVENT_TYPES = EVENT_KINDS + CALENDAR_KINDS
PING = "webhook.ping"
MAX_BACKOFF_SECONDS = 6 * 3600
MAX_ERROR_LENGTH = 2000

# Registration ids (or "*") the current request asked not to notify.
PUSH_DONT_NOTIFY: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "calbridge_push_dont_notify", default=None)


# --- written by the write path ----------------------------------------------------------------

@dataclass(frozen=True)
class Listeners:
    path: str
    workspace_id: int | None
    push: bool
    webhook: bool


def listeners(conn: Connection, collection_id: int) -> Listeners | None:
    """Who listens to ``collection_id``, looked up once per write transaction."""
    tx = current_transaction()
    memo: dict[int, Listeners | None] | None = tx.memo.setdefault("listeners", {}) \
        if tx is not None else None
    if memo is not None and collection_id in memo:
        return memo[collection_id]
    row = conn.execute(sa.select(collection.c.path, collection.c.workspace_id,
                                 collection.c.tag).where(
        collection.c.id == collection_id)).first()
    found = None
    if row is not None:
        push = conn.execute(sa.select(push_subscription.c.id).where(
            push_subscription.c.collection_id == collection_id).limit(1)).first() is not None
        # Webhooks speak of events and calendars; an address book's changes are pushed only.
        hooks = row.workspace_id is not None and row.tag == "VCALENDAR" and conn.execute(
            sa.select(webhook_endpoint.c.id).where(
                webhook_endpoint.c.workspace_id == row.workspace_id,
                webhook_endpoint.c.enabled.is_(True)).limit(1)).first() is not None
        found = Listeners(row.path, row.workspace_id, push, hooks)
    if memo is not None:
        memo[collection_id] = found
    return found


def note(conn: Connection, collection_id: int, revision: int,
         changes: Sequence[tuple[str, str | None]], heard: Listeners | None = None) -> None:
    """Leave notices of ``changes`` ((kind, public id) pairs) for the dispatcher, if anyone
    listens; ``heard`` when the caller looked the listeners up before a deletion."""
    heard = heard or listeners(conn, collection_id)
    if heard is None or not (heard.push or heard.webhook) or not changes:
        return
    dont = PUSH_DONT_NOTIFY.get()
    now = now_ts()
    conn.execute(change_notice.insert(), [
        {"created_at": now, "collection_id": collection_id, "collection_path": heard.path,
         "workspace_id": heard.workspace_id, "revision": revision, "kind": kind,
         "public_id": public_id, "push": heard.push, "webhook": heard.webhook,
         "dont_notify": list(dont) if dont else None} for kind, public_id in changes])


# --- read by the dispatcher -------------------------------------------------------------------

@dataclass(frozen=True)
class Notice:
    id: int
    created_at: int
    collection_id: int
    collection_path: str
    workspace_id: int | None
    revision: int
    kind: str
    public_id: str | None
    push: bool
    webhook: bool
    dont_notify: tuple[str, ...]

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> Notice:
        return cls(id=row["id"], created_at=row["created_at"],
                   collection_id=row["collection_id"], collection_path=row["collection_path"],
                   workspace_id=row["workspace_id"], revision=row["revision"], kind=row["kind"],
                   public_id=row["public_id"], push=row["push"], webhook=row["webhook"],
                   dont_notify=tuple(row["dont_notify"] or ()))


@dataclass(frozen=True)
class Endpoint:
    id: int
    public_id: str
    workspace_id: int
    url: str
    description: str
    secret: str
    calendar_id: int | None
    event_types: tuple[str, ...]
    enabled: bool
    consecutive_failures: int
    disabled_reason: str | None
    created_by: str
    created_at: int

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> Endpoint:
        return cls(id=row["id"], public_id=row["public_id"], workspace_id=row["workspace_id"],
                   url=row["url"], description=row["description"], secret=row["secret"],
                   calendar_id=row["calendar_id"], event_types=tuple(row["event_types"]),
                   enabled=row["enabled"], consecutive_failures=row["consecutive_failures"],
                   disabled_reason=row["disabled_reason"], created_by=row["created_by"],
                   created_at=row["created_at"])

    def wants(self, notice: Notice) -> bool:
        return self.enabled and notice.kind in self.event_types and (
            self.calendar_id is None or self.calendar_id == notice.collection_id)


@dataclass(frozen=True)
class Delivery:
    id: int
    endpoint_id: int
    message_id: str
    event_type: str
    payload: str
    created_at: int
    status: str
    attempts: int
    next_attempt_at: int
    last_status: int | None
    last_error: str | None
    delivered_at: int | None

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> Delivery:
        return cls(id=row["id"], endpoint_id=row["endpoint_id"], message_id=row["message_id"],
                   event_type=row["event_type"], payload=row["payload"],
                   created_at=row["created_at"], status=row["status"],
                   attempts=row["attempts"], next_attempt_at=row["next_attempt_at"],
                   last_status=row["last_status"], last_error=row["last_error"],
                   delivered_at=row["delivered_at"])


# The data of a notice's webhook payload.
Payload = Callable[[Notice], dict[str, object]]


class Notices:
    """The dispatcher's side: take notices once, turning the webhook ones into deliveries."""

    def __init__(self, db: Transactions) -> None:
        self.db = db

    def take(self, payload: Payload, limit: int = 500) -> list[Notice]:
        """Claim up to ``limit`` notices, oldest first, and in the same transaction queue a
        delivery for each enabled endpoint that wants one (``payload`` gives its data)."""
        with self.db.write(".notices") as conn:
            rows = conn.execute(sa.select(change_notice).order_by(change_notice.c.id)
                                .limit(limit)).mappings().all()
            if not rows:
                return []
            notices = [Notice.from_row(r) for r in rows]
            conn.execute(change_notice.delete().where(
                change_notice.c.id.in_([n.id for n in notices])))
            workspaces = {n.workspace_id for n in notices if n.webhook and n.workspace_id}
            endpoints = [Endpoint.from_row(r) for r in conn.execute(
                sa.select(webhook_endpoint).where(
                    webhook_endpoint.c.workspace_id.in_(workspaces),
                    webhook_endpoint.c.enabled.is_(True))).mappings()] if workspaces else []
            now = now_ts()
            queued = [_delivery_row(e.id, n.kind, payload(n), now)
                      for n in notices if n.webhook
                      for e in endpoints if e.workspace_id == n.workspace_id and e.wants(n)]
            if queued:
                conn.execute(webhook_delivery.insert(), queued)
        return notices

    def pending(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(change_notice))
                       .scalar_one())


def _delivery_row(endpoint_id: int, event_type: str, data: dict[str, object], now: int
                  ) -> dict[str, object]:
    message_id = f"msg_{uuid.uuid4().hex}"
    body = json.dumps({"type": event_type, "timestamp": iso_z(now), "data": data},
                      separators=(",", ":"), sort_keys=True)
    return {"endpoint_id": endpoint_id, "message_id": message_id, "event_type": event_type,
            "payload": body, "created_at": now, "status": "queued", "attempts": 0,
            "next_attempt_at": now}


# --- push subscriptions -----------------------------------------------------------------------

@dataclass(frozen=True)
class PushSubscription:
    id: str
    collection_id: int
    username: str
    push_resource: str
    p256dh: str
    auth_secret: str
    content_update: bool
    property_update: bool
    expires_at: int

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> PushSubscription:
        return cls(id=row["id"], collection_id=row["collection_id"], username=row["username"],
                   push_resource=row["push_resource"], p256dh=row["p256dh"],
                   auth_secret=row["auth_secret"], content_update=row["content_update"],
                   property_update=row["property_update"], expires_at=row["expires_at"])


class PushSubscriptions:
    def __init__(self, db: Transactions) -> None:
        self.db = db

    def register(self, collection_path: str, collection_id: int, username: str,
                 push_resource: str, p256dh: str, auth_secret: str, content_update: bool,
                 property_update: bool, expires_at: int) -> tuple[PushSubscription, bool]:
        """Register (or, for the same push resource on the same calendar, update) a
        subscription; True when it is new."""
        values = {"username": username, "p256dh": p256dh, "auth_secret": auth_secret,
                  "content_update": content_update, "property_update": property_update,
                  "expires_at": expires_at}
        with self.db.write(collection_path) as conn:
            existing = conn.execute(sa.select(push_subscription.c.id).where(
                push_subscription.c.collection_id == collection_id,
                push_subscription.c.push_resource == push_resource)).scalar()
            if existing is not None:
                conn.execute(push_subscription.update().where(
                    push_subscription.c.id == existing).values(**values))
                sub_id = existing
            else:
                sub_id = secrets.token_urlsafe(24)
                conn.execute(push_subscription.insert().values(
                    id=sub_id, collection_id=collection_id, push_resource=push_resource,
                    created_at=now_ts(), **values))
            row = conn.execute(sa.select(push_subscription).where(
                push_subscription.c.id == sub_id)).mappings().one()
        return PushSubscription.from_row(row), existing is None

    def get(self, sub_id: str) -> PushSubscription | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(push_subscription).where(
                push_subscription.c.id == sub_id)).mappings().first()
        return PushSubscription.from_row(row) if row else None

    def remove(self, sub_id: str) -> bool:
        with self.db.write(".push") as conn:
            return conn.execute(push_subscription.delete().where(
                push_subscription.c.id == sub_id)).rowcount == 1

    def active_on(self, collection_ids: Iterable[int]) -> list[PushSubscription]:
        ids = sorted(set(collection_ids))
        if not ids:
            return []
        with self.db.read() as conn:
            rows = conn.execute(sa.select(push_subscription).where(
                push_subscription.c.collection_id.in_(ids),
                push_subscription.c.expires_at > now_ts())
                .order_by(push_subscription.c.id)).mappings().all()
        return [PushSubscription.from_row(r) for r in rows]

    def purge_expired(self, now: int) -> int:
        with self.db.write(".push") as conn:
            return conn.execute(push_subscription.delete().where(
                push_subscription.c.expires_at <= now)).rowcount


# --- webhook endpoints and deliveries --------------------------------------------------------

class Webhooks:
    def __init__(self, db: Transactions, retry_seconds: int = 10, max_attempts: int = 12,
                 lease_seconds: int = 120, disable_after: int = 50) -> None:
        self.db = db
        self.retry_seconds = retry_seconds  # first retry delay; it doubles each attempt
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds
        self.disable_after = disable_after  # failed attempts in a row before the endpoint stops

    def create(self, workspace_id: int, url: str, event_types: Sequence[str],
               calendar_id: int | None, description: str, created_by: str) -> Endpoint:
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        with self.db.write(".webhooks") as conn:
            endpoint_id = inserted_id(conn.execute(webhook_endpoint.insert().values(
                public_id=str(uuid.uuid4()), workspace_id=workspace_id, url=url,
                description=description, secret=secret, calendar_id=calendar_id,
                event_types=list(event_types), enabled=True, consecutive_failures=0,
                created_by=created_by, created_at=now_ts())))
            row = conn.execute(sa.select(webhook_endpoint).where(
                webhook_endpoint.c.id == endpoint_id)).mappings().one()
        return Endpoint.from_row(row)

    def in_workspace(self, workspace_id: int) -> list[Endpoint]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(webhook_endpoint).where(
                webhook_endpoint.c.workspace_id == workspace_id)
                .order_by(webhook_endpoint.c.id)).mappings().all()
        return [Endpoint.from_row(r) for r in rows]

    def get(self, workspace_id: int, public_id: str) -> Endpoint | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(webhook_endpoint).where(
                webhook_endpoint.c.workspace_id == workspace_id,
                webhook_endpoint.c.public_id == public_id)).mappings().first()
        return Endpoint.from_row(row) if row else None

    def by_id(self, endpoint_id: int) -> Endpoint | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(webhook_endpoint).where(
                webhook_endpoint.c.id == endpoint_id)).mappings().first()
        return Endpoint.from_row(row) if row else None

    def delete(self, endpoint_id: int) -> None:
        with self.db.write(".webhooks") as conn:
            conn.execute(webhook_delivery.delete().where(
                webhook_delivery.c.endpoint_id == endpoint_id))
            conn.execute(webhook_endpoint.delete().where(webhook_endpoint.c.id == endpoint_id))

    def enable(self, endpoint_id: int) -> None:
        with self.db.write(".webhooks") as conn:
            conn.execute(webhook_endpoint.update().where(
                webhook_endpoint.c.id == endpoint_id).values(
                enabled=True, consecutive_failures=0, disabled_reason=None))

    def enqueue(self, endpoint_id: int, event_type: str, data: dict[str, object]) -> Delivery:
        with self.db.write(".webhooks") as conn:
            delivery_id = inserted_id(conn.execute(webhook_delivery.insert().values(
                **_delivery_row(endpoint_id, event_type, data, now_ts()))))
            row = conn.execute(sa.select(webhook_delivery).where(
                webhook_delivery.c.id == delivery_id)).mappings().one()
        return Delivery.from_row(row)

    def deliveries(self, endpoint_id: int, limit: int = 100) -> list[Delivery]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(webhook_delivery).where(
                webhook_delivery.c.endpoint_id == endpoint_id)
                .order_by(webhook_delivery.c.id.desc()).limit(limit)).mappings().all()
        return [Delivery.from_row(r) for r in rows]

    def claim_due(self, limit: int = 20) -> list[tuple[Delivery, Endpoint]]:
        """Take up to ``limit`` due deliveries of enabled endpoints, oldest first, each
        counting an attempt; a lapsed lease (a sender that died) makes one due again."""
        now = now_ts()
        with self.db.write(".webhooks") as conn:
            ids = conn.execute(
                sa.select(webhook_delivery.c.id)
                .join(webhook_endpoint, webhook_endpoint.c.id == webhook_delivery.c.endpoint_id)
                .where(leases.due(webhook_delivery, now), webhook_endpoint.c.enabled.is_(True))
                .order_by(webhook_delivery.c.id).limit(limit)).scalars().all()
            claimed = leases.claim(conn, webhook_delivery, ids, now, self.lease_seconds)
            rows = conn.execute(sa.select(webhook_delivery).where(
                webhook_delivery.c.id.in_(claimed)).order_by(webhook_delivery.c.id)
            ).mappings().all() if claimed else []
            endpoints = {r["endpoint_id"] for r in rows}
            by_id = {r["id"]: Endpoint.from_row(r) for r in conn.execute(
                sa.select(webhook_endpoint).where(webhook_endpoint.c.id.in_(endpoints))
            ).mappings()} if endpoints else {}
        return [(Delivery.from_row(r), by_id[r["endpoint_id"]]) for r in rows]

    def delivered(self, delivery: Delivery, status: int) -> None:
        with self.db.write(".webhooks") as conn:
            conn.execute(webhook_delivery.update().where(
                webhook_delivery.c.id == delivery.id).values(
                status="delivered", delivered_at=now_ts(), claimed_until=None,
                last_status=status, last_error=None))
            conn.execute(webhook_endpoint.update().where(
                webhook_endpoint.c.id == delivery.endpoint_id).values(consecutive_failures=0))

    def failed(self, delivery: Delivery, status: int | None, error: str) -> None:
        """Back off and retry; after ``max_attempts`` the delivery stays 'failed' in the log.
        ``disable_after`` failed attempts in a row disable the endpoint (an admin re-enables
        it); its queued deliveries then wait for that."""
        with self.db.write(".webhooks") as conn:
            delay = min(self.retry_seconds * 2 ** min(max(delivery.attempts - 1, 0), 20),
                        MAX_BACKOFF_SECONDS)
            final = delivery.attempts >= self.max_attempts
            conn.execute(webhook_delivery.update().where(
                webhook_delivery.c.id == delivery.id,
                webhook_delivery.c.status != "delivered").values(
                status="failed" if final else "queued", claimed_until=None,
                last_status=status, last_error=error[:MAX_ERROR_LENGTH],
                next_attempt_at=now_ts() + delay))
            conn.execute(webhook_endpoint.update().where(
                webhook_endpoint.c.id == delivery.endpoint_id).values(
                consecutive_failures=webhook_endpoint.c.consecutive_failures + 1))
            conn.execute(webhook_endpoint.update().where(
                webhook_endpoint.c.id == delivery.endpoint_id,
                webhook_endpoint.c.consecutive_failures >= self.disable_after).values(
                enabled=False, disabled_reason=f"{self.disable_after} failed attempts in a "
                                               f"row; last: {error[:200]}"))

    def purge_delivered(self, cutoff: int) -> int:
        with self.db.write(".webhooks") as conn:
            return conn.execute(webhook_delivery.delete().where(
                webhook_delivery.c.status == "delivered",
                webhook_delivery.c.delivered_at < cutoff)).rowcount


# --- server secrets ---------------------------------------------------------------------------

class ServerSecrets:
    """Keys the server makes once and keeps (the VAPID key pair)."""

    def __init__(self, db: Transactions) -> None:
        self.db = db

    def get_or_create(self, name: str, make: Callable[[], str]) -> str:
        with self.db.read() as conn:
            value = conn.execute(sa.select(server_secret.c.value).where(
                server_secret.c.name == name)).scalar()
        if value is not None:
            return str(value)
        made = make()
        with self.db.write(".secrets") as conn:
            # Two processes starting together: the first one's key is everyone's.
            value = conn.execute(sa.select(server_secret.c.value).where(
                server_secret.c.name == name)).scalar()
            if value is None:
                conn.execute(server_secret.insert().values(name=name, value=made,
                                                           created_at=now_ts()))
                value = made
        return str(value)
