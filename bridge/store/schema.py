"""SQL schema of the calbridge store (SQLAlchemy Core).

The iCalendar text of every object is the source of truth; every other column of
``calendar_object`` and every ``occurrence`` row is an index derived from it and
rewritten in the same transaction.
"""

from __future__ import annotations

import sqlalchemy as sa

from bridge.core.index import MAX_UID_LENGTH

metadata = sa.MetaData()

# Column lengths the store checks before it writes: PostgreSQL enforces VARCHAR lengths
# (SQLite does not), so an over-long value must be refused as bad input, not fail the write.
MAX_PATH_LENGTH = 1024  # collection paths and object hrefs

MAX_SUBJECT_LENGTH = 998  # RFC 5322's line limit
MAX_ADDRESS_LENGTH = 320  # an e-mail address: 64 + @ + 255

collection = sa.Table(
    "collection",
    metadata,
    # The integer id is the REST API's calendar_id; AUTOINCREMENT so an id is never reused
    # and a sync token of a deleted collection can never match a new one.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("path", sa.String(MAX_PATH_LENGTH), nullable=False, unique=True),
    sa.Column("owner", sa.String(255), nullable=False, index=True),
    sa.Column("tag", sa.String(32), nullable=False, server_default=""),
    sa.Column("props", sa.JSON, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"),
    # Sync tokens older than this revision are refused (the change log below it was pruned).
    sa.Column("log_floor", sa.BigInteger, nullable=False, server_default="0"),
    # Upper bound of any one occurrence's duration, so window queries can seek on start time.
    sa.Column("max_occurrence_seconds", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    # The workspace a calendar belongs to (None for principals and for calendars of users
    # that belong to no workspace yet).
    sa.Column("workspace_id", sa.Integer, nullable=True, index=True),
    sqlite_autoincrement=True,
)

calendar_object = sa.Table(
    "calendar_object",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "collection_id",
        sa.Integer,
        sa.ForeignKey("collection.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("href", sa.String(MAX_PATH_LENGTH), nullable=False),
    sa.Column("uid", sa.String(MAX_UID_LENGTH), nullable=False),
    # The API's eventId: stable for the life of the UID in this collection.
    sa.Column("public_id", sa.String(36), nullable=False, unique=True),
    sa.Column("etag", sa.String(80), nullable=False),
    sa.Column("component", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    # Envelope of all occurrences in POSIX seconds, Radicale's time_range semantics.
    sa.Column("start_ts", sa.BigInteger, nullable=False),
    sa.Column("end_ts", sa.BigInteger, nullable=False),
    # The occurrence rows are complete for [indexed_from, indexed_until).
    sa.Column("indexed_from", sa.BigInteger, nullable=False),
    sa.Column("indexed_until", sa.BigInteger, nullable=False),
    sa.Column("last_modified", sa.BigInteger, nullable=False),
    # When the rolling horizon next rebuilds this object's rows (TIMESTAMP_MAX: never), and
    # whether its rows stop at index_max_per_series rather than at the window's edge.
    sa.Column("reindex_at", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("index_capped", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("collection_id", "href", name="uq_object_href"),
    sa.Index("ix_object_uid", "collection_id", "uid"),
    sa.Index("ix_object_indexed_until", "collection_id", "indexed_until"),
    sa.Index("ix_object_indexed_from", "collection_id", "indexed_from"),
    sa.Index("ix_object_envelope", "collection_id", "component", "start_ts", "end_ts"),
    sa.Index("ix_object_reindex_at", "reindex_at"),
)

occurrence = sa.Table(
    "occurrence",
    metadata,
    sa.Column(
        "object_id",
        sa.Integer,
        sa.ForeignKey("calendar_object.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("collection_id", sa.Integer, nullable=False),
    sa.Column("start_ts", sa.BigInteger, nullable=False),
    # Exclusive; a zero-length instance is stored as one second so overlap stays a plain test.
    sa.Column("end_ts", sa.BigInteger, nullable=False),
    sa.Index("ix_occurrence_window", "collection_id", "start_ts", "end_ts", "object_id"),
    sa.Index("ix_occurrence_object", "object_id"),
)

change = sa.Table(
    "change",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "collection_id",
        sa.Integer,
        sa.ForeignKey("collection.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("href", sa.String(MAX_PATH_LENGTH), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    # When the change was written: maintenance prunes the log past a retention.
    sa.Column("changed_at", sa.BigInteger, nullable=False, server_default="0"),
    # The REST eventId of the object, so that a REST sync can name what was deleted.
    sa.Column("public_id", sa.String(36), nullable=True),
    sa.Index("ix_change_revision", "collection_id", "revision"),
    sa.Index("ix_change_changed_at", "changed_at"),
)

user_account = sa.Table(
    "user_account",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(255), nullable=False, unique=True),
    sa.Column("email", sa.String(MAX_ADDRESS_LENGTH), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    # Where calendars made by MKCALENDAR go.
    sa.Column("default_workspace_id", sa.Integer, nullable=True),
)

workspace = sa.Table(
    "workspace",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

membership = sa.Table(
    "membership",
    metadata,
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspace.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("user_account.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),  # member | admin
)

api_token = sa.Table(
    "api_token",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # Public part of the token, for lookup; the secret part is stored only as a hash.
    sa.Column("prefix", sa.String(32), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("user_account.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspace.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("title", sa.String(255), nullable=False, server_default=""),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("access_level", sa.String(32), nullable=False),
    sa.Column("operations", sa.JSON, nullable=False),
    sa.Column("visible_fields", sa.JSON, nullable=False),
    sa.Column("calendar_ids", sa.JSON, nullable=True),  # None = every calendar it may see
    sa.Column("past_days", sa.Integer, nullable=True),  # None = unlimited
    sa.Column("future_days", sa.Integer, nullable=True),
    sa.Column("expires_at", sa.BigInteger, nullable=True),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
    sa.Column("last_used_at", sa.BigInteger, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

auth_failure = sa.Table(
    "auth_failure",
    metadata,
    # "addr:<ip>", "pair:<ip> user:<name>" or "pair:<ip> token:<prefix>": failed logins
    # counted per fixed window (bridge/store/throttle.py).
    sa.Column("key", sa.String(320), primary_key=True),
    sa.Column("window_start", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)

outbox_message = sa.Table(
    "outbox_message",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("method", sa.String(16), nullable=False),      # iTIP: REQUEST, CANCEL, REPLY
    sa.Column("event_uid", sa.String(MAX_UID_LENGTH), nullable=False),
    sa.Column("sender", sa.String(MAX_ADDRESS_LENGTH), nullable=False),
    sa.Column("recipients", sa.JSON, nullable=False),
    sa.Column("subject", sa.String(MAX_SUBJECT_LENGTH), nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),         # the part people read
    sa.Column("calendar_text", sa.Text, nullable=False),     # the iTIP VCALENDAR
    sa.Column("status", sa.String(16), nullable=False),      # queued | sending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
    sa.Column("claimed_until", sa.BigInteger, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("sent_at", sa.BigInteger, nullable=True),
    sa.Index("ix_outbox_due", "status", "next_attempt_at"),
)

idempotency_key = sa.Table(
    "idempotency_key",
    metadata,
    sa.Column("token_id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False, index=True),
)

feed_token = sa.Table(
    "feed_token",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("collection_id", sa.Integer, sa.ForeignKey("collection.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # full | freebusy
    # Public part of the feed token, for lookup; the secret part is stored only as a hash.
    sa.Column("prefix", sa.String(32), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("window_past_days", sa.Integer, nullable=True),  # None: the kind's default
    sa.Column("window_future_days", sa.Integer, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
    sa.Column("last_used_at", sa.BigInteger, nullable=True),
    # A full feed publishes VALARMs, ATTENDEEs and ORGANIZERs only when this is set.
    sa.Column("include_private", sa.Boolean, nullable=False, server_default=sa.false()),
)
