"""Shares: a calendar shared with one user or with every member of its workspace.

Decisions:
- Levels are ``freebusy`` (busy time only), ``read`` and ``read-write``. A share never lets
  its recipient delete the calendar, change its properties or share it on: that stays with
  the owner and the workspace's admins (``bridge.store.access`` decides; this module stores).
- Recipients are members of the calendar's own workspace: a user share to anyone else and a
  share with another workspace are refused, and a membership is checked again on every use
  (``grants``), so nothing reaches across workspaces.
- A workspace share counts for every member, present and future, without a row per member.
  A member's own settings for it (hidden, own name or colour) live in a settings row
  (``level`` NULL) made on their first change.
- ``status``: a share made over REST is ``accepted`` at once (the owner decides for their
  team); an invitation from Apple's sharing extension is ``pending`` until the recipient
  accepts. Only an accepted user share grants its level; a recipient who declined gets
  nothing from the calendar's workspace share either.
- The effective grant of a user is the widest level of what reaches them. It is read once per
  request (``grants``), when the request's AccessPolicy is built.
- Every recipient reaches a calendar shared with them under one stable name in their own
  home, ``shared-<calendar id>`` (``alias_name``): the same collection, objects, change log
  and sync tokens as the owner's, with the recipient's own overrides of the display
  properties. Nobody creates a collection of that form in a home (``is_alias_name``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from bridge.core.times import now_ts
from bridge.store.engine import Transactions, inserted_id
from bridge.store.records import NotFound
from bridge.store.schema import collection, membership, user_account
from bridge.store.schema_shares import share

LEVELS = ("freebusy", "read", "read-write")
STATUSES = ("accepted", "pending", "declined")
# What a recipient may set for themselves on their view of a shared calendar.
OVERRIDABLE = ("D:displayname", "ICAL:calendar-color", "ICAL:calendar-order")
MAX_OVERRIDE_LENGTH = 1024
ALIAS_PREFIX = "shared-"
_ALIAS = re.compile(r"^shared-([1-9][0-9]{0,9})$")
_LOCK = ".shares"  # one lock scope for share writes (rare; keeps upserts atomic on PostgreSQL)


def alias_name(calendar_id: int) -> str:
    return f"{ALIAS_PREFIX}{calendar_id}"


def alias_calendar_id(name: str) -> int | None:
    """The calendar id a home's alias name stands for, or None if it is no alias name."""
    match = _ALIAS.match(name)
    return int(match.group(1)) if match else None


def is_alias_name(name: str) -> bool:
    return name.startswith(ALIAS_PREFIX) and name[len(ALIAS_PREFIX):].isdigit()


def wider(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if LEVELS.index(a) >= LEVELS.index(b) else b


@dataclass(frozen=True)
class Share:
    """One row as the owner's side sees it: a grant to a user or to a workspace."""

    id: int
    calendar_id: int
    level: str
    status: str
    user_id: int | None = None
    username: str | None = None
    email: str | None = None
    workspace_id: int | None = None
    summary: str = ""
    created_by: str = ""
    created_at: int = 0
    updated_at: int = 0


@dataclass(frozen=True)
class Grant:
    """What shares give one user on one calendar (accepted shares only)."""

    calendar_id: int
    level: str
    visible: bool = True
    props: Mapping[str, str] = field(default_factory=dict)

    @property
    def listed(self) -> bool:
        """Shown in the recipient's CalDAV home: a client can sync it (not free/busy only,
        which no client can show as a calendar) and the recipient has not hidden it."""
        return self.visible and self.level != "freebusy"


@dataclass(frozen=True)
class Invitation:
    """A user share as its recipient sees it (any status), for CalDAV notifications."""

    share: Share
    calendar_path: str
    owner: str


class Shares:
    def __init__(self, db: Transactions) -> None:
        self.db = db

    # -- the owner's side ------------------------------------------------------------------------

    def share_with_user(self, calendar_id: int, user_id: int, level: str, created_by: str, *,
                        status: str = "accepted", summary: str = "") -> tuple[Share, bool]:
        """Grant ``level`` to a member of the calendar's workspace (or change the level of an
        existing share). Returns the share and whether it is new. An accepted share stays
        accepted when an invitation repeats it."""
        _check_level(level)
        with self.db.write(_LOCK) as conn:
            calendar = _calendar(conn, calendar_id)
            user = conn.execute(sa.select(user_account).where(
                user_account.c.id == user_id)).mappings().first()
            if user is None:
                raise NotFound(f"user {user_id}")
            if user["username"] == calendar["owner"]:
                raise ValueError("a calendar is not shared with its owner")
            if not _is_member(conn, user_id, calendar["workspace_id"]):
                raise ValueError(f"{user['username']} is not a member of the calendar's "
                                 "workspace")
            row = conn.execute(sa.select(share).where(
                share.c.calendar_id == calendar_id, share.c.user_id == user_id)
            ).mappings().first()
            now = now_ts()
            if row is None:
                share_id = inserted_id(conn.execute(share.insert().values(
                    calendar_id=calendar_id, user_id=user_id, level=level, status=status,
                    visible=True, props={}, summary=summary[:255], created_by=created_by,
                    created_at=now, updated_at=now)))
            else:
                share_id = row["id"]
                kept = row["status"] if row["level"] is not None and \
                    row["status"] == "accepted" else status
                values: dict[str, object] = {"level": level, "status": kept, "updated_at": now}
                if summary:
                    values["summary"] = summary[:255]
                if row["level"] is None:  # a settings row becomes a share
                    values["created_by"], values["created_at"] = created_by, now
                conn.execute(share.update().where(share.c.id == share_id).values(**values))
            return _one(conn, share_id), row is None or row["level"] is None

    def share_with_workspace(self, calendar_id: int, level: str, created_by: str
                             ) -> tuple[Share, bool]:
        """Grant ``level`` to every member of the calendar's own workspace."""
        _check_level(level)
        with self.db.write(_LOCK) as conn:
            calendar = _calendar(conn, calendar_id)
            workspace_id = calendar["workspace_id"]
            if workspace_id is None:
                raise ValueError("the calendar belongs to no workspace")
            row = conn.execute(sa.select(share.c.id).where(
                share.c.calendar_id == calendar_id, share.c.workspace_id == workspace_id)
            ).first()
            now = now_ts()
            if row is None:
                share_id = inserted_id(conn.execute(share.insert().values(
                    calendar_id=calendar_id, workspace_id=workspace_id, level=level,
                    status="accepted", visible=True, props={}, created_by=created_by,
                    created_at=now, updated_at=now)))
            else:
                share_id = row[0]
                conn.execute(share.update().where(share.c.id == share_id).values(
                    level=level, updated_at=now))
            return _one(conn, share_id), row is None

    def of_calendar(self, calendar_id: int) -> list[Share]:
        """The calendar's shares (not the recipients' settings rows), oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(_select().where(share.c.calendar_id == calendar_id,
                                                share.c.level.is_not(None))
                                .order_by(share.c.id)).mappings().all()
        return [_share(r) for r in rows]

    def get(self, share_id: int) -> Share | None:
        if not 0 < share_id < 2**31:
            return None
        with self.db.read() as conn:
            row = conn.execute(_select().where(share.c.id == share_id,
                                               share.c.level.is_not(None))).mappings().first()
        return _share(row) if row else None

    def remove(self, share_id: int) -> Share:
        """Revoke a share. A user share goes with its recipient's settings; a workspace
        share leaves the members' settings (they apply again if it is shared again)."""
        with self.db.write(_LOCK) as conn:
            row = conn.execute(_select().where(share.c.id == share_id,
                                               share.c.level.is_not(None))).mappings().first()
            if row is None:
                raise NotFound(f"share {share_id}")
            conn.execute(share.delete().where(share.c.id == share_id))
            return _share(row)

    # -- the recipient's side --------------------------------------------------------------------

    def grants(self, user_id: int) -> dict[int, Grant]:
        """calendar id -> what accepted shares give this user (members of the calendar's
        workspace only; never on their own calendars)."""
        with self.db.read() as conn:
            return _grants(conn, user_id)

    def grant(self, username: str, calendar_id: int) -> Grant | None:
        user_id = self.user_id(username)
        return None if user_id is None else self.grants(user_id).get(calendar_id)

    def listed(self, username: str) -> dict[int, Grant]:
        """The grants shown in this user's CalDAV home."""
        user_id = self.user_id(username)
        if user_id is None:
            return {}
        return {cid: g for cid, g in self.grants(user_id).items() if g.listed}

    def invitations(self, user_id: int) -> list[Invitation]:
        """User shares made to this user, whatever their status."""
        with self.db.read() as conn:
            rows = conn.execute(
                _select().add_columns(collection.c.path, collection.c.owner)
                .join(collection, collection.c.id == share.c.calendar_id)
                .where(share.c.user_id == user_id, share.c.level.is_not(None))
                .order_by(share.c.id)).mappings().all()
        return [Invitation(_share(r), r["path"], r["owner"]) for r in rows]

    def answer(self, user_id: int, calendar_id: int, accept: bool) -> Share:
        """The recipient accepts or declines a user share made to them."""
        with self.db.write(_LOCK) as conn:
            row = conn.execute(sa.select(share.c.id).where(
                share.c.calendar_id == calendar_id, share.c.user_id == user_id,
                share.c.level.is_not(None))).first()
            if row is None:
                raise NotFound(f"no share of calendar {calendar_id} with user {user_id}")
            conn.execute(share.update().where(share.c.id == row[0]).values(
                status="accepted" if accept else "declined", updated_at=now_ts()))
            return _one(conn, row[0])

    def set_settings(self, user_id: int, calendar_id: int, *,
                     props: Mapping[str, str | None] | None = None,
                     visible: bool | None = None) -> None:
        """The recipient's own settings: ``props`` (None values remove an override, so the
        owner's value shows again) and whether it is shown in their home."""
        if props is not None and set(props) - set(OVERRIDABLE):
            raise ValueError("a recipient may set only " + ", ".join(OVERRIDABLE))
        if props is not None and any(len(v) > MAX_OVERRIDE_LENGTH for v in props.values() if v):
            raise ValueError(f"a recipient's value is at most {MAX_OVERRIDE_LENGTH} characters")
        with self.db.write(_LOCK) as conn:
            row = conn.execute(sa.select(share.c.id, share.c.props).where(
                share.c.calendar_id == calendar_id, share.c.user_id == user_id)
            ).mappings().first()
            now = now_ts()
            merged = dict(row["props"] or {}) if row else {}
            for name, value in (props or {}).items():
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
            values: dict[str, object] = {"props": merged, "updated_at": now}
            if visible is not None:
                values["visible"] = visible
            if row is None:
                _calendar(conn, calendar_id)
                conn.execute(share.insert().values(
                    calendar_id=calendar_id, user_id=user_id, level=None, status="accepted",
                    created_by="", created_at=now, **{"visible": True, **values}))
            else:
                conn.execute(share.update().where(share.c.id == row["id"]).values(**values))

    def user_id(self, username: str) -> int | None:
        with self.db.read() as conn:
            return conn.execute(sa.select(user_account.c.id).where(
                user_account.c.username == username)).scalar()


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"a share's level is one of {', '.join(LEVELS)}")


def _calendar(conn: sa.Connection, calendar_id: int) -> sa.RowMapping:
    row = conn.execute(sa.select(collection.c.id, collection.c.owner, collection.c.tag,
                                 collection.c.workspace_id)
                       .where(collection.c.id == calendar_id)).mappings().first()
    if row is None or row["tag"] != "VCALENDAR":
        raise NotFound(f"calendar {calendar_id}")
    return row


def _is_member(conn: sa.Connection, user_id: int, workspace_id: int | None) -> bool:
    return workspace_id is not None and conn.execute(sa.select(membership.c.role).where(
        membership.c.user_id == user_id, membership.c.workspace_id == workspace_id)
    ).first() is not None


def _select() -> sa.Select:
    return sa.select(share, user_account.c.username, user_account.c.email).outerjoin(
        user_account, user_account.c.id == share.c.user_id)


def _share(row: sa.RowMapping) -> Share:
    return Share(id=row["id"], calendar_id=row["calendar_id"], level=row["level"],
                 status=row["status"], user_id=row["user_id"], username=row["username"],
                 email=row["email"], workspace_id=row["workspace_id"], summary=row["summary"],
                 created_by=row["created_by"], created_at=row["created_at"],
                 updated_at=row["updated_at"])


def _one(conn: sa.Connection, share_id: int) -> Share:
    return _share(conn.execute(_select().where(share.c.id == share_id)).mappings().one())


def _grants(conn: sa.Connection, user_id: int) -> dict[int, Grant]:
    workspaces = sa.select(membership.c.workspace_id).where(membership.c.user_id == user_id)
    owner = sa.select(user_account.c.username).where(user_account.c.id == user_id)
    rows = conn.execute(
        sa.select(share.c.calendar_id, share.c.user_id, share.c.level, share.c.status,
                  share.c.visible, share.c.props)
        .join(collection, collection.c.id == share.c.calendar_id)
        .where(collection.c.tag == "VCALENDAR",
               collection.c.workspace_id.in_(workspaces),
               collection.c.owner != owner.scalar_subquery(),
               sa.or_(share.c.user_id == user_id,
                      share.c.workspace_id == collection.c.workspace_id))
    ).mappings().all()
    levels: dict[int, str | None] = {}
    own: dict[int, sa.RowMapping] = {}
    for row in rows:
        cid = row["calendar_id"]
        if row["user_id"] is not None:
            own[cid] = row
            if row["level"] is not None and row["status"] != "accepted":
                levels.setdefault(cid, None)
                continue
        levels[cid] = wider(levels.get(cid), row["level"])
    out = {}
    for cid, level in levels.items():
        settings = own.get(cid)
        if level is None or (settings is not None and settings["status"] == "declined"):
            continue
        out[cid] = Grant(cid, level, visible=bool(settings["visible"]) if settings else True,
                         props=dict(settings["props"] or {}) if settings else {})
    return out


__all__ = ["ALIAS_PREFIX", "LEVELS", "OVERRIDABLE", "STATUSES", "Grant",
           "Invitation", "Share", "Shares", "alias_calendar_id", "alias_name", "is_alias_name"]
