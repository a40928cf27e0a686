"""Sharing: the share table (calendars shared with users or whole workspaces).

Revision ID: 0010_shares
Revises: 0008_notifications
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_shares"
down_revision = "0008_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "share",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("workspace_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="accepted", nullable=False),
        sa.Column("visible", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("props", sa.JSON(), nullable=False),
        sa.Column("summary", sa.String(length=255), server_default="", nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["calendar_id"], ["collection.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("calendar_id", "user_id", name="uq_share_user"),
        sa.UniqueConstraint("calendar_id", "workspace_id", name="uq_share_workspace"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_share_calendar_id"), "share", ["calendar_id"])
    op.create_index(op.f("ix_share_user_id"), "share", ["user_id"])
    op.create_index(op.f("ix_share_workspace_id"), "share", ["workspace_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_share_workspace_id"), table_name="share")
    op.drop_index(op.f("ix_share_user_id"), table_name="share")
    op.drop_index(op.f("ix_share_calendar_id"), table_name="share")
    op.drop_table("share")
