"""Feeds: include_private, whether a full feed publishes alarms, attendees and organizers.

Revision ID: 0007_feed_private
Revises: 0006_change_public_id
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_feed_private"
down_revision = "0006_change_public_id"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing feeds become private-free: their URLs were shared before the choice existed.
    with op.batch_alter_table("feed_token") as batch:
        batch.add_column(sa.Column("include_private", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("feed_token") as batch:
        batch.drop_column("include_private")
