"""The one place that turns a presented credential into permissions.

Both doors ask it: the REST API (Bearer tokens) and Radicale's auth and rights plugins (Basic
auth with a password or a token as the password). Nothing else decides access.

Shares (``bridge.store.shares``) are read once when the policy is built: a calendar shared
with the user is visible to them (in its workspace, and to a token of that workspace only)
with the share's level, narrowed further by a token's scopes and access level. A share never
gives ``delete`` or ``configure`` (the calendar's own properties and schedules) nor the right
to share: those stay with the owner and the workspace's admins.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, cast

from bridge.store.accounts import OPERATIONS, VISIBLE_FIELDS, Accounts, Token, User
from bridge.store.shares import Grant, Shares
from bridge.store.store import CollectionRecord

READ, WRITE, ADMIN = "calendars:read", "calendars:write", "calendars:admin"
AccessName = Literal["owner", "admin", "freebusy", "read", "read-write"]
# A broader scope includes the narrower ones.
_IMPLIED = {ADMIN: {ADMIN, WRITE, READ}, WRITE: {WRITE, READ}, READ: {READ}}


class Denial(Enum):
    """Why a calendar action is refused; each door maps it to its own status."""

    NOT_FOUND = "not_found"            # invisible: another workspace, or not the user's
    SCOPE = "scope"                    # the token lacks the scope (ACCESS_DENIED)
    RESTRICTED = "restricted"          # a token-level restriction (TOKEN_DENIED)


@dataclass(frozen=True)
class CalendarRights:
    freebusy: bool
    read: bool
    write: bool                 # the calendar's objects
    delete: bool                # the calendar itself
    configure: bool = False     # the calendar's own properties and schedules


NO_RIGHTS = CalendarRights(False, False, False, False)
ALL_RIGHTS = CalendarRights(True, True, True, True, True)
# What each share level gives (before a token narrows it).
SHARE_RIGHTS = {"freebusy": CalendarRights(True, False, False, False),
                "read": CalendarRights(True, True, False, False),
                "read-write": CalendarRights(True, True, True, False)}


@dataclass(frozen=True)
class AccessPolicy:
    """What one authenticated caller may do."""

    user: User
    roles: dict[int, str]           # workspace id -> role of the user
    token: Token | None             # None: a password login (full owner rights)
    grants: dict[int, Grant] = field(default_factory=dict)  # calendar id -> what shares give
    # Radicale asks for the rights of the same path once per item of a listing; a policy
    # lives for one request, so its answers are remembered for that request only.
    memo: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def scopes(self) -> frozenset[str]:
        if self.token is None:
            return frozenset({READ, WRITE, ADMIN})
        return frozenset(s for scope in self.token.scopes for s in _IMPLIED.get(scope, ()))

    @property
    def workspace_id(self) -> int | None:
        return self.token.workspace_id if self.token else None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def may_operate(self, operation: str) -> bool:
        return self.token is None or operation in self.token.operations

    def is_admin_of(self, workspace_id: int | None) -> bool:
        return workspace_id is not None and self.roles.get(workspace_id) == "admin"

    def in_workspace(self, workspace_id: int) -> bool:
        """May this caller act in the workspace at all (membership, and the token's own)?"""
        if workspace_id not in self.roles:
            return False
        return self.token is None or self.token.workspace_id == workspace_id

    def manages(self, calendar: CollectionRecord) -> bool:
        """Owner or workspace admin: every right on the calendar (before a token's limits)."""
        if calendar.owner == self.user.username and self.token is None:
            return True
        if calendar.workspace_id is None or not self.in_workspace(calendar.workspace_id):
            return False
        return calendar.owner == self.user.username or self.is_admin_of(calendar.workspace_id)

    def grant(self, calendar: CollectionRecord) -> Grant | None:
        """What a share gives this caller on the calendar (in the calendar's workspace, and
        the token's own workspace), or None."""
        grant = self.grants.get(calendar.id)
        if grant is None or calendar.workspace_id is None or \
                not self.in_workspace(calendar.workspace_id):
            return None
        return grant

    def sees(self, calendar: CollectionRecord) -> bool:
        """Whether the calendar exists for this caller (else: 404, never revealed)."""
        return self.manages(calendar) or self.grant(calendar) is not None

    def access(self, calendar: CollectionRecord) -> AccessName | None:
        """How the user reaches the calendar, before a token narrows it: owner, admin, or the
        share's level (freebusy, read, read-write); None if not at all."""
        if self.manages(calendar):
            return "owner" if calendar.owner == self.user.username else "admin"
        grant = self.grant(calendar)
        return cast(AccessName, grant.level) if grant else None

    def may_share(self, calendar: CollectionRecord) -> bool:
        """Owners and workspace admins share, with calendars:admin and full access."""
        return self.manages(calendar) and not self.outside_allow_list(calendar) and \
            self.has_scope(ADMIN) and (self.token is None
                                       or self.token.access_level == "full_access")

    def outside_allow_list(self, calendar: CollectionRecord) -> bool:
        return self.token is not None and self.token.calendar_ids is not None and \
            calendar.id not in self.token.calendar_ids

    def calendar_denial(self, calendar: CollectionRecord) -> Denial | None:
        if not self.sees(calendar):
            return Denial.NOT_FOUND
        if self.outside_allow_list(calendar):
            return Denial.RESTRICTED
        return None

    def rights(self, calendar: CollectionRecord) -> CalendarRights:
        if self.calendar_denial(calendar) is not None:
            return NO_RIGHTS
        base = ALL_RIGHTS
        if not self.manages(calendar):
            grant = self.grant(calendar)
            base = SHARE_RIGHTS[grant.level] if grant else NO_RIGHTS
        if self.token is None:
            return base
        level = self.token.access_level
        read = self.has_scope(READ) and level in ("view_only", "full_access")
        write = self.has_scope(WRITE) and level == "full_access"
        return CalendarRights(freebusy=base.freebusy and self.has_scope(READ),
                              read=base.read and read, write=base.write and write,
                              delete=base.delete and self.has_scope(ADMIN)
                              and level == "full_access",
                              configure=base.configure and write)

    def may_respond(self, calendar: CollectionRecord, invited: bool) -> bool:
        """An attendee may answer an invitation in another member's calendar of the same
        workspace, which they cannot otherwise see (there is no scheduling inbox copy)."""
        if self.rights(calendar).write:
            return True
        if not invited or calendar.workspace_id is None or self.outside_allow_list(calendar):
            return False  # an allow-list is the token's whole reach, invitations included
        if not self.in_workspace(calendar.workspace_id):
            return False
        return self.token is None or (self.token.access_level == "full_access"
                                      and self.has_scope(WRITE))

    def caldav_refusal(self) -> str | None:
        """Why this credential may not use the CalDAV door at all, or None.

        CalDAV clients sync whole calendars and whole objects: a token limited to a timeframe
        or to some visible fields cannot be honoured there without lying to the client, so
        such tokens are refused at login with this reason (they work on the REST door)."""
        token = self.token
        if token is None:
            return None
        if token.past_days is not None or token.future_days is not None:
            return ("This token is limited to a timeframe, which CalDAV clients cannot honour; "
                    "use it with the REST API, or create a token without --past-days/"
                    "--future-days for your calendar app.")
        if set(token.visible_fields) != set(VISIBLE_FIELDS):
            return ("This token shows only some fields of events, which CalDAV clients cannot "
                    "honour; use it with the REST API, or create a token with every visible "
                    "field for your calendar app.")
        return None

    @property
    def may_create_calendars(self) -> bool:
        """As the REST door's calendar create: the write scope and full access."""
        return self.has_scope(WRITE) and (self.token is None
                                          or self.token.access_level == "full_access")

    @property
    def all_operations(self) -> bool:
        return self.token is None or set(self.token.operations) >= set(OPERATIONS)

    def timeframe(self, now: dt.datetime | None = None
                  ) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The window a token may touch: (earliest, latest), None where unlimited."""
        if self.token is None:
            return None, None
        now = now or dt.datetime.now(dt.UTC)
        past, future = self.token.past_days, self.token.future_days
        return (None if past is None else now - dt.timedelta(days=past),
                None if future is None else now + dt.timedelta(days=future))


def authenticate(accounts: Accounts, username: str | None, secret: str) -> AccessPolicy | None:
    """A policy for a password (with its username) or an API token (username optional), read
    in one transaction: every request pays for this."""
    with accounts.db.read():
        return _authenticate(accounts, username, secret)


def _authenticate(accounts: Accounts, username: str | None, secret: str) -> AccessPolicy | None:
    token = accounts.check_token(secret)
    if token is not None:
        user = accounts.get_user_by_id(token.user_id)
        if user is None or (username and username != user.username):
            return None
        return AccessPolicy(user, accounts.memberships(user.id), token,
                            Shares(accounts.db).grants(user.id))
    if not username:
        return None
    user = accounts.check_password(username, secret)
    if user is None:
        return None
    return AccessPolicy(user, accounts.memberships(user.id), None,
                        Shares(accounts.db).grants(user.id))


# The policy of the CalDAV request being served (set by the auth plugin, read by rights).
current_policy: contextvars.ContextVar[AccessPolicy | None] = contextvars.ContextVar(
    "calbridge_policy", default=None)
# Why the auth plugin refused a valid credential on the CalDAV door (answered as 403 with it).
caldav_refusal: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "calbridge_caldav_refusal", default=None)
