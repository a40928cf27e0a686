"""Accounts: users (CalDAV logins, argon2 passwords), workspaces, memberships, API tokens."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bridge.core.cache import BoundedLRU
from bridge.core.mail_header import check_email
from bridge.core.times import now_ts
from bridge.store.bearer import row_for_secret, secret_hash, select_where
from bridge.store.engine import Transactions, inserted_id
from bridge.store.records import Conflict, NotFound
from bridge.store.schema import api_token, collection, membership, user_account, workspace

_hasher = PasswordHasher()
# Verifying against a throw-away hash keeps the cost of "no such user" equal to a wrong password.
_DUMMY_HASH = _hasher.hash("calbridge-dummy-password")
# The stored hash of an account without a password (not an argon2 hash: nothing verifies).
LOCKED = "!locked"


def hash_password(password: str) -> str:
    return _hasher.hash(password)

ROLES = ("member", "admin")
SCOPES = ("calendars:read", "calendars:write", "calendars:admin")
ACCESS_LEVELS = ("free_busy_only", "view_only", "full_access")
OPERATIONS = ("create_events", "edit_title", "edit_description", "edit_location", "edit_times",
              "edit_attendees", "delete_events", "respond_to_event")
VISIBLE_FIELDS = ("title", "description", "location", "attendees", "times", "status",
                  "organizer", "labels", "join_url")
TOKEN_PREFIX = "cb_"
# The scopes that allow writes; every operation above is a write.
WRITE_SCOPES = ("calendars:write", "calendars:admin")


def effective_access(scopes: Iterable[str], access_level: str, operations: Iterable[str]
                     ) -> tuple[str, tuple[str, ...]]:
    """(access level, operations) a token really has: without a write scope it is view_only
    at most, and only a full_access token with a write scope keeps its operations. Rows made
    before this rule are read through it too, so no description claims more than holds."""
    writes = bool(set(scopes) & set(WRITE_SCOPES))
    if access_level == "full_access" and not writes:
        access_level = "view_only"
    if access_level != "full_access":
        return access_level, ()
    return access_level, tuple(operations)


class VerifiedSecrets:
    """Remembers passwords that verified against a stored argon2 hash, so that CalDAV clients
    (which send Basic credentials on every request) do not pay for argon2 each time.

    Entries are keyed by the stored hash itself: a changed password changes the stored hash
    and the entry no longer matches. Secrets are kept only as an HMAC under a per-process key.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._key = os.urandom(32)
        self._entries: BoundedLRU[tuple[str, bytes], str] = BoundedLRU(size)

    def _digest(self, name: str, secret: str) -> tuple[str, bytes]:
        return name, hmac.new(self._key, secret.encode(), hashlib.sha256).digest()

    def matches(self, name: str, secret: str, stored_hash: str) -> bool:
        cached = self._entries.get(self._digest(name, secret))
        return cached is not None and hmac.compare_digest(cached, stored_hash)

    def remember(self, name: str, secret: str, stored_hash: str) -> None:
        self._entries.put(self._digest(name, secret), stored_hash)


_verified = VerifiedSecrets()


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str
    default_workspace_id: int | None = None


@dataclass(frozen=True)
class Workspace:
    id: int
    uuid: str
    name: str


@dataclass(frozen=True)
class Token:
    """An API token's record (never its secret)."""

    id: int
    prefix: str
    user_id: int
    workspace_id: int
    title: str
    scopes: tuple[str, ...]
    access_level: str
    operations: tuple[str, ...]
    visible_fields: tuple[str, ...]
    calendar_ids: tuple[int, ...] | None
    past_days: int | None
    future_days: int | None
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None
    created_at: int

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> Token:
        ids = row["calendar_ids"]
        level, operations = effective_access(row["scopes"], row["access_level"],
                                             row["operations"])
        return cls(
            id=row["id"], prefix=row["prefix"], user_id=row["user_id"],
            workspace_id=row["workspace_id"], title=row["title"], scopes=tuple(row["scopes"]),
            access_level=level, operations=operations,
            visible_fields=tuple(row["visible_fields"]),
            calendar_ids=None if ids is None else tuple(int(i) for i in ids),
            past_days=row["past_days"], future_days=row["future_days"],
            expires_at=row["expires_at"], revoked_at=row["revoked_at"],
            last_used_at=row["last_used_at"], created_at=row["created_at"])

    def usable(self, now: int) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def _user(row: sa.RowMapping) -> User:
    return User(row["id"], row["username"], row["email"], row["default_workspace_id"])


class Accounts:
    def __init__(self, db: Transactions) -> None:
        self.db = db

    # -- users -------------------------------------------------------------------------------

    def add_user(self, username: str, email: str, password: str) -> User:
        if len(password) < 8:
            raise ValueError("a password has at least 8 characters")
        return self.add_user_with_hash(username, email, _hasher.hash(password))

    def add_user_with_hash(self, username: str, email: str, password_hash: str) -> User:
        """A user whose password hash is given: ``add_user``'s, or one from elsewhere (a
        migration: an argon2 hash, or ``LOCKED`` for an account no password opens until
        ``set_password``)."""
        if not username or "/" in username or username.startswith("."):
            raise ValueError("a username is non-empty and holds no '/' nor a leading '.'")
        check_email(email)
        with self.db.write(".accounts") as conn:
            taken = conn.execute(sa.select(user_account.c.id).where(sa.or_(
                user_account.c.username == username,
                user_account.c.email == email.lower()))).first()
            if taken:
                raise Conflict("username or email already taken")
            user_id = inserted_id(conn.execute(user_account.insert().values(
                username=username, email=email.lower(), password_hash=password_hash,
                created_at=now_ts())))
        return User(user_id, username, email.lower())

    def set_password(self, username: str, password: str) -> None:
        if len(password) < 8:
            raise ValueError("a password has at least 8 characters")
        with self.db.write(".accounts") as conn:
            done = conn.execute(user_account.update().where(
                user_account.c.username == username).values(
                password_hash=_hasher.hash(password))).rowcount
        if not done:
            raise NotFound(f"no user {username}")

    def get_user(self, username: str) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(user_account).where(
                user_account.c.username == username)).mappings().first()
        return _user(row) if row else None

    def get_user_by_email(self, email: str) -> User | None:
        """The user whose address this is (addresses are kept in lower case)."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(user_account).where(
                user_account.c.email == email.strip().lower())).mappings().first()
        return _user(row) if row else None

    def get_user_by_id(self, user_id: int) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(user_account).where(
                user_account.c.id == user_id)).mappings().first()
        return _user(row) if row else None

    def check_password(self, username: str, password: str) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(user_account).where(
                user_account.c.username == username)).mappings().first()
        if row is not None and _verified.matches(username, password, row["password_hash"]):
            return _user(row)
        try:
            _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        _verified.remember(username, password, row["password_hash"])
        return _user(row)

    # -- workspaces ----------------------------------------------------------------------------

    def create_workspace(self, name: str, owner: str) -> Workspace:
        if not name.strip():
            raise ValueError("a workspace needs a name")
        user = self._require_user(owner)
        ws_uuid = str(uuid.uuid4())
        with self.db.write(".accounts") as conn:
            ws_id = inserted_id(conn.execute(workspace.insert().values(
                uuid=ws_uuid, name=name.strip(), created_at=now_ts())))
            self._join(conn, ws_id, user, "admin")
        return Workspace(ws_id, ws_uuid, name.strip())

    def add_member(self, workspace_ref: str, username: str, role: str = "member") -> None:
        if role not in ROLES:
            raise ValueError(f"role is one of {', '.join(ROLES)}")
        user = self._require_user(username)
        ws = self.get_workspace(workspace_ref)
        if ws is None:
            raise NotFound(f"workspace {workspace_ref}")
        with self.db.write(".accounts") as conn:
            conn.execute(membership.delete().where(membership.c.workspace_id == ws.id,
                                                   membership.c.user_id == user.id))
            self._join(conn, ws.id, user, role)

    def _join(self, conn: sa.Connection, ws_id: int, user: User, role: str) -> None:
        conn.execute(membership.insert().values(workspace_id=ws_id, user_id=user.id, role=role))
        if user.default_workspace_id is None:
            # A user's first workspace becomes their default, and adopts the calendars they
            # made over CalDAV before belonging to any.
            conn.execute(user_account.update().where(user_account.c.id == user.id).values(
                default_workspace_id=ws_id))
            conn.execute(collection.update().where(
                collection.c.owner == user.username, collection.c.tag != "",
                collection.c.workspace_id.is_(None)).values(workspace_id=ws_id))

    def get_workspace(self, ref: str | int) -> Workspace | None:
        column = workspace.c.id if isinstance(ref, int) else workspace.c.uuid
        with self.db.read() as conn:
            row = conn.execute(sa.select(workspace).where(column == ref)).mappings().first()
        return Workspace(row["id"], row["uuid"], row["name"]) if row else None

    def memberships(self, user_id: int) -> dict[int, str]:
        """workspace id -> role."""
        with self.db.read() as conn:
            return dict(conn.execute(sa.select(membership.c.workspace_id, membership.c.role)
                                     .where(membership.c.user_id == user_id)).all())

    def members(self, workspace_id: int) -> dict[str, str]:
        """username -> role."""
        with self.db.read() as conn:
            return dict(conn.execute(
                sa.select(user_account.c.username, membership.c.role)
                .join(membership, membership.c.user_id == user_account.c.id)
                .where(membership.c.workspace_id == workspace_id)).all())

    # -- tokens --------------------------------------------------------------------------------

    def create_token(
        self, username: str, workspace_ref: str | int, scopes: Iterable[str], *,
        title: str = "", access_level: str | None = None,
        operations: Iterable[str] | None = None, visible_fields: Iterable[str] | None = None,
        calendar_ids: Iterable[int] | None = None, past_days: int | None = None,
        future_days: int | None = None, expires_in_days: int | None = None,
    ) -> tuple[str, Token]:
        """Create a token; returns (the token, shown only now, and its record).

        The access level defaults to what the scopes allow (full_access with a write scope,
        else view_only), operations to all of them when writes are possible; asking for
        writes the scopes or the level forbid is refused, not silently narrowed."""
        user = self._require_user(username)
        ws = self.get_workspace(workspace_ref)
        if ws is None:
            raise NotFound(f"workspace {workspace_ref}")
        if ws.id not in self.memberships(user.id):
            raise ValueError(f"{username} is not a member of workspace {ws.uuid}")
        scopes = sorted(set(scopes))
        _check_choices("scope", scopes, SCOPES)
        if not scopes:
            raise ValueError("a token needs at least one scope")
        writes = bool(set(scopes) & set(WRITE_SCOPES))
        if access_level is None:
            access_level = "full_access" if writes else "view_only"
        if access_level not in ACCESS_LEVELS:
            raise ValueError(f"access level is one of {', '.join(ACCESS_LEVELS)}")
        if access_level == "full_access" and not writes:
            raise ValueError("full_access needs the calendars:write (or calendars:admin) scope; "
                             "a calendars:read token is view_only or free_busy_only")
        full = access_level == "full_access"
        ops = sorted(set((OPERATIONS if full else ()) if operations is None
                         else _expand_all(operations, OPERATIONS)))
        _check_choices("operation", ops, OPERATIONS)
        if ops and not full:
            raise ValueError("operations are writes: they need the calendars:write scope and "
                             "full_access")
        fields = sorted(set(VISIBLE_FIELDS if visible_fields is None else _expand_all(
            visible_fields, VISIBLE_FIELDS)))
        _check_choices("visible field", fields, VISIBLE_FIELDS)
        for days in (past_days, future_days, expires_in_days):
            if days is not None and not 0 <= days <= 36500:
                raise ValueError("day counts are between 0 and 36500")
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = now_ts()
        with self.db.write(".accounts") as conn:
            token_id = inserted_id(conn.execute(api_token.insert().values(
                prefix=prefix, secret_hash=secret_hash(secret), user_id=user.id,
                workspace_id=ws.id, title=title, scopes=scopes, access_level=access_level,
                operations=ops, visible_fields=fields,
                calendar_ids=None if calendar_ids is None else sorted(set(calendar_ids)),
                past_days=past_days, future_days=future_days,
                expires_at=None if expires_in_days is None else now + expires_in_days * 86400,
                created_at=now)))
            row = conn.execute(sa.select(api_token).where(api_token.c.id == token_id)
                               ).mappings().one()
        return f"{TOKEN_PREFIX}{prefix}_{secret}", Token.from_row(row)

    def tokens(self, *, user_id: int | None = None, workspace_id: int | None = None
               ) -> list[Token]:
        query = select_where(api_token, user_id=user_id, workspace_id=workspace_id)
        with self.db.read() as conn:
            return [Token.from_row(r) for r in conn.execute(query).mappings()]

    def get_token(self, token_id: int) -> Token | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(api_token).where(api_token.c.id == token_id)
                               ).mappings().first()
        return Token.from_row(row) if row else None

    def revoke_token(self, token_id: int) -> Token:
        with self.db.write(".accounts") as conn:
            updated = conn.execute(api_token.update().where(
                api_token.c.id == token_id, api_token.c.revoked_at.is_(None)
            ).values(revoked_at=now_ts()))
            row = conn.execute(sa.select(api_token).where(api_token.c.id == token_id)
                               ).mappings().first()
        if row is None:
            raise NotFound(f"token {token_id}")
        del updated
        return Token.from_row(row)

    def check_token(self, presented: str) -> Token | None:
        """The usable token matching ``presented``, in constant time over the secret."""
        row = row_for_secret(self.db, api_token, TOKEN_PREFIX, presented)
        if row is None:
            return None
        token = Token.from_row(row)
        now = now_ts()
        if not token.usable(now):
            return None
        if token.last_used_at is None or token.last_used_at < now - 60:
            # Recorded at most once a minute: a read must not turn into a write each time.
            with self.db.side_write(".accounts") as conn:  # also inside a login's read
                conn.execute(api_token.update().where(api_token.c.id == token.id).values(
                    last_used_at=now))
        return token

    def _require_user(self, username: str) -> User:
        user = self.get_user(username)
        if user is None:
            raise NotFound(f"user {username}")
        return user


def _expand_all(values: Iterable[str], choices: tuple[str, ...]) -> list[str]:
    values = list(values)
    return list(choices) if "all" in values else values


def _check_choices(kind: str, values: Iterable[str], choices: tuple[str, ...]) -> None:
    unknown = sorted(set(values) - set(choices))
    if unknown:
        raise ValueError(f"unknown {kind}: {', '.join(unknown)} (one of {', '.join(choices)})")
