"""SQL schema of the calbridge store (SQLAlchemy Core).

The iCalendar text of every object is the source of truth; every other column of
``calendar_object`` and every ``occurrence`` row is an index derived from it and
rewritten in the same transaction.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

collection = sa.Table(
    "collection",
    metadata,
    # The integer id is the REST API's calendar_id; AUTOINCREMENT so an id is never reused
    # and a sync token of a deleted collection can never match a new one.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("path", sa.String(1024), nullable=False, unique=True),
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
    sa.Column("href", sa.String(1024), nullable=False),
    sa.Column("uid", sa.String(1024), nullable=False),
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
    sa.UniqueConstraint("collection_id", "href", name="uq_object_href"),
    sa.Index("ix_object_uid", "collection_id", "uid"),
    sa.Index("ix_object_indexed_until", "collection_id", "indexed_until"),
    sa.Index("ix_object_indexed_from", "collection_id", "indexed_from"),
    sa.Index("ix_object_envelope", "collection_id", "component", "start_ts", "end_ts"),
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
    sa.Column("href", sa.String(1024), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Index("ix_change_revision", "collection_id", "revision"),
)

user_account = sa.Table(
    "user_account",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(255), nullable=False, unique=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)
