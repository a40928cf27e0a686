"""User accounts: CalDAV logins with argon2 password hashes."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from radicale_plugin.schema import user_account
from radicale_plugin.store import CalendarStore, Conflict, now_ts

_hasher = PasswordHasher()
# Verifying against a throw-away hash keeps the cost of "no such user" equal to a wrong password.
_DUMMY_HASH = _hasher.hash("calbridge-dummy-password")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str


class Accounts:
    def __init__(self, store: CalendarStore) -> None:
        self.store = store

    def add_user(self, username: str, email: str, password: str) -> User:
        if not username or "/" in username or username.startswith("."):
            raise ValueError("a username is non-empty and holds no '/' nor a leading '.'")
        if "@" not in email:
            raise ValueError("email must be an address")
        if len(password) < 8:
            raise ValueError("a password has at least 8 characters")
        with self.store.write(f".accounts/{username}") as conn:
            taken = conn.execute(sa.select(user_account.c.id).where(sa.or_(
                user_account.c.username == username,
                user_account.c.email == email.lower()))).first()
            if taken:
                raise Conflict("username or email already taken")
            user_id = conn.execute(user_account.insert().values(
                username=username, email=email.lower(), password_hash=_hasher.hash(password),
                created_at=now_ts())).inserted_primary_key[0]
        return User(user_id, username, email.lower())

    def get_user(self, username: str) -> User | None:
        with self.store.read() as conn:
            row = conn.execute(sa.select(user_account).where(
                user_account.c.username == username)).mappings().first()
        return User(row["id"], row["username"], row["email"]) if row else None

    def check_password(self, username: str, password: str) -> User | None:
        with self.store.read() as conn:
            row = conn.execute(sa.select(user_account).where(
                user_account.c.username == username)).mappings().first()
        try:
            _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return User(row["id"], row["username"], row["email"]) if row else None
