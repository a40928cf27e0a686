"""The change log remembers the public id (the REST eventId) of what it logs, so that the REST
sync token can name deleted events.

Revision ID: 0006_change_public_id
Revises: 0005_maintenance
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_change_public_id"
down_revision = "0005_maintenance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("change") as batch:
        batch.add_column(sa.Column("public_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("change") as batch:
        batch.drop_column("public_id")
