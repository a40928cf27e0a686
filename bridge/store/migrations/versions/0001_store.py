"""The store: collections, calendar objects, occurrences, change log, users.

Revision ID: 0001_store
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_store"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collection",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("tag", sa.String(length=32), server_default="", nullable=False),
        sa.Column("props", sa.JSON(), nullable=False),
        sa.Column("revision", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("log_floor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("max_occurrence_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_collection_owner"), "collection", ["owner"], unique=False)
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "calendar_object",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("href", sa.String(length=1024), nullable=False),
        sa.Column("uid", sa.String(length=1024), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("component", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("start_ts", sa.BigInteger(), nullable=False),
        sa.Column("end_ts", sa.BigInteger(), nullable=False),
        sa.Column("indexed_from", sa.BigInteger(), nullable=False),
        sa.Column("indexed_until", sa.BigInteger(), nullable=False),
        sa.Column("last_modified", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["collection_id"], ["collection.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("collection_id", "href", name="uq_object_href"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_index(
        "ix_object_envelope",
        "calendar_object",
        ["collection_id", "component", "start_ts", "end_ts"],
        unique=False,
    )
    op.create_index(
        "ix_object_indexed_from", "calendar_object", ["collection_id", "indexed_from"], unique=False
    )
    op.create_index(
        "ix_object_indexed_until",
        "calendar_object",
        ["collection_id", "indexed_until"],
        unique=False,
    )
    op.create_index("ix_object_uid", "calendar_object", ["collection_id", "uid"], unique=False)
    op.create_table(
        "change",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("href", sa.String(length=1024), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["collection_id"], ["collection.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_change_revision", "change", ["collection_id", "revision"], unique=False)
    op.create_table(
        "occurrence",
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("start_ts", sa.BigInteger(), nullable=False),
        sa.Column("end_ts", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["object_id"], ["calendar_object.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_occurrence_object", "occurrence", ["object_id"], unique=False)
    op.create_index(
        "ix_occurrence_window",
        "occurrence",
        ["collection_id", "start_ts", "end_ts", "object_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("occurrence")
    op.drop_table("change")
    op.drop_table("calendar_object")
    op.drop_table("user_account")
    op.drop_table("collection")
