"""Tables of change notifications: the notices the write path leaves for the dispatcher,
WebDAV-Push subscriptions, webhook endpoints and their delivery queue, and the server's own
secrets (the VAPID key). Same metadata as ``schema.py``; migration 0008_notifications."""

from __future__ import annotations

import sqlalchemy as sa

from bridge.store.schema import MAX_PATH_LENGTH, metadata

MAX_URL_LENGTH = 2048

# Written in the transaction of the change it announces (bridge/store/rows.py), only when
# someone listens (a push subscription on the calendar, a webhook endpoint in its workspace),
# and consumed once by the dispatcher: a transactional outbox of the change log.
change_notice = sa.Table(
    "change_notice",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    # No foreign key: a calendar's deletion is itself a notice, outliving the calendar.
    sa.Column("collection_id", sa.Integer, nullable=False),
    sa.Column("collection_path", sa.String(MAX_PATH_LENGTH), nullable=False),
    sa.Column("workspace_id", sa.Integer, nullable=True),
    sa.Column("revision", sa.BigInteger, nullable=False),
    # event.created | event.updated | event.deleted | calendar.created | calendar.updated |
    # calendar.deleted
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("public_id", sa.String(36), nullable=True),
    sa.Column("push", sa.Boolean, nullable=False),
    sa.Column("webhook", sa.Boolean, nullable=False),
    # Push-Dont-Notify of the request that made the change: registration ids, or ["*"].
    sa.Column("dont_notify", sa.JSON, nullable=True),
    sqlite_autoincrement=True,
)

push_subscription = sa.Table(
    "push_subscription",
    metadata,
    # The registration URL's last segment: random, unguessable.
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("collection_id", sa.Integer, sa.ForeignKey("collection.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("username", sa.String(255), nullable=False),
    sa.Column("push_resource", sa.String(MAX_URL_LENGTH), nullable=False),
    sa.Column("p256dh", sa.String(255), nullable=False),
    sa.Column("auth_secret", sa.String(255), nullable=False),
    sa.Column("content_update", sa.Boolean, nullable=False),
    sa.Column("property_update", sa.Boolean, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("collection_id", "push_resource", name="uq_push_resource"),
)

webhook_endpoint = sa.Table(
    "webhook_endpoint",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("public_id", sa.String(36), nullable=False, unique=True),
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspace.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("url", sa.String(MAX_URL_LENGTH), nullable=False),
    sa.Column("description", sa.String(255), nullable=False, server_default=""),
    # The signing key (Standard Webhooks' whsec_...): kept as is, since signing needs it.
    sa.Column("secret", sa.String(128), nullable=False),
    sa.Column("calendar_id", sa.Integer, nullable=True),  # None: every calendar
    sa.Column("event_types", sa.JSON, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("disabled_reason", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

webhook_delivery = sa.Table(
    "webhook_delivery",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("endpoint_id", sa.Integer,
              sa.ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("message_id", sa.String(64), nullable=False),  # webhook-id: the same on retries
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # queued | sending | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
    sa.Column("claimed_until", sa.BigInteger, nullable=True),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("delivered_at", sa.BigInteger, nullable=True),
    sa.Index("ix_webhook_due", "status", "next_attempt_at"),
)

server_secret = sa.Table(
    "server_secret",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)
