"""Maintenance: when each object's index is rebuilt, and when each change was logged.

Revision ID: 0005_maintenance
Revises: 0004_outbox
Create Date: 2026-11-23
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0005_maintenance"
down_revision = "0004_outbox"
branch_labels = None
depends_on = None

# radicale.item.filter's TIMESTAMP_MIN / TIMESTAMP_MAX as of this revision (a migration must
# not follow later changes of the code it ran with).
TIMESTAMP_MIN = -62135596800
TIMESTAMP_MAX = 253402300800


def upgrade() -> None:
    with op.batch_alter_table("calendar_object") as batch:
        batch.add_column(sa.Column("reindex_at", sa.BigInteger(), server_default="0",
                                   nullable=False))
        batch.add_column(sa.Column("index_capped", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
        batch.create_index("ix_object_reindex_at", ["reindex_at"])
    # Objects whose rows are complete (or that prove nothing) never roll; every other series
    # stays due (0) and is rebuilt, and marked capped or not, by the first maintenance run.
    objects = sa.table("calendar_object", sa.column("reindex_at"), sa.column("indexed_until"),
                       sa.column("end_ts"))
    op.execute(objects.update().where(sa.or_(
        objects.c.indexed_until >= TIMESTAMP_MAX, objects.c.indexed_until <= TIMESTAMP_MIN,
        objects.c.end_ts <= objects.c.indexed_until)).values(reindex_at=TIMESTAMP_MAX))
    with op.batch_alter_table("change") as batch:
        batch.add_column(sa.Column("changed_at", sa.BigInteger(), server_default="0",
                                   nullable=False))
        batch.create_index("ix_change_changed_at", ["changed_at"])
    # Changes logged before this revision count from the upgrade, so no client's sync token
    # is refused by the first pruning after it.
    changes = sa.table("change", sa.column("changed_at"))
    op.execute(changes.update().values(changed_at=int(time.time())))


def downgrade() -> None:
    with op.batch_alter_table("change") as batch:
        batch.drop_index("ix_change_changed_at")
        batch.drop_column("changed_at")
    with op.batch_alter_table("calendar_object") as batch:
        batch.drop_index("ix_object_reindex_at")
        batch.drop_column("index_capped")
        batch.drop_column("reindex_at")
