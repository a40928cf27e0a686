"""The ``share`` table: a calendar shared with one user or with a whole workspace. Same
metadata as ``schema.py``; migration 0010_shares.

One table holds both what the owner grants and what each recipient keeps for themselves:
- a *user share* (``user_id`` set): the level granted to that user, their answer to it
  (``status``) and their own settings (``visible``, ``props``);
- a *workspace share* (``workspace_id`` set): the level granted to every member of the
  calendar's workspace, present and future;
- a recipient's *settings row* (``user_id`` set, ``level`` NULL): what a member keeps for a
  calendar that reaches them through a workspace share (hidden, own colour and name).
"""

from __future__ import annotations

import sqlalchemy as sa

from bridge.store.schema import metadata

share = sa.Table(
    "share",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("calendar_id", sa.Integer, sa.ForeignKey("collection.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("user_account.id", ondelete="CASCADE"),
              nullable=True, index=True),
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspace.id", ondelete="CASCADE"),
              nullable=True, index=True),
    # freebusy | read | read-write; NULL on a recipient's settings row.
    sa.Column("level", sa.String(16), nullable=True),
    # accepted | pending (an invitation not yet answered) | declined
    sa.Column("status", sa.String(16), nullable=False, server_default="accepted"),
    # The recipient shows it in their CalDAV home (False: hidden there, still reachable).
    sa.Column("visible", sa.Boolean, nullable=False, server_default=sa.true()),
    # The recipient's own values of D:displayname, ICAL:calendar-color, ICAL:calendar-order.
    sa.Column("props", sa.JSON, nullable=False),
    # What the owner wrote with an invitation (CalendarServer's CS:summary), if anything.
    sa.Column("summary", sa.String(255), nullable=False, server_default=""),
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("calendar_id", "user_id", name="uq_share_user"),
    sa.UniqueConstraint("calendar_id", "workspace_id", name="uq_share_workspace"),
    sqlite_autoincrement=True,
)
