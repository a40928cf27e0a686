"""REST authentication: a Bearer token becomes the request's AccessPolicy."""

from __future__ import annotations

from flask import g, request

from bridge.errors import (
    AccessDenied,
    AuthFailed,
    CalendarNotFound,
    RateLimited,
    ResourceNotFound,
    TokenDenied,
)
from bridge.services import services
from bridge.store.access import AccessPolicy, Denial, authenticate
from bridge.store.accounts import TOKEN_PREFIX, Workspace
from bridge.store.store import CollectionRecord

# /ics/: subscription feeds, whose secret URL is the credential (bridge/api/feeds.py); /rsvp/:
# answer links in mailed invitations, the same (bridge/api/rsvp.py).
PUBLIC_PATHS = ("/api/health", "/api/openapi.json", "/api/docs", "/api/openapi", "/ics/",
                "/rsvp/")


def authenticate_request() -> None:
    """before_request of the API: everything but health and the API docs needs a token."""
    if request.method == "OPTIONS" or request.path.startswith(PUBLIC_PATHS):
        return
    svc = services()
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    secret = secret.strip()
    prefix = secret[len(TOKEN_PREFIX):].partition("_")[0] if secret.startswith(TOKEN_PREFIX) \
        else None
    keys = svc.throttle.keys(request.remote_addr, token_prefix=prefix)
    wait = svc.throttle.retry_after(keys)
    if wait:
        raise RateLimited(wait)
    if scheme.lower() != "bearer" or not secret:
        raise AuthFailed()
    policy = authenticate(svc.accounts, None, secret)
    if policy is None:
        svc.throttle.record_failure(keys)
        raise AuthFailed("The token is unknown, expired or revoked.")
    g.policy = policy


def current_policy() -> AccessPolicy:
    policy = g.get("policy")
    if policy is None:
        raise AuthFailed()
    return policy


def workspace_of_request(workspace_uuid: str) -> Workspace:
    """The workspace in the path, if the caller may act in it (else 404, never revealed)."""
    workspace = services().accounts.get_workspace(workspace_uuid)
    if workspace is None or not current_policy().in_workspace(workspace.id):
        raise ResourceNotFound("Workspace not found.", code="WORKSPACE_NOT_FOUND")
    return workspace


def require_scope(scope: str) -> AccessPolicy:
    policy = current_policy()
    if not policy.has_scope(scope):
        raise AccessDenied(f"This token lacks the {scope} scope.")
    return policy


def calendar_of_request(calendar_id: int, need: str, workspace: Workspace | None = None
                        ) -> CollectionRecord:
    """The calendar, if the caller may ``need`` ("freebusy", "read", "write", "delete",
    "configure") it.

    Invisible calendars (another workspace, another member's) are 404 and never revealed; a
    calendar outside the token's allow-list is TOKEN_DENIED; a missing right is ACCESS_DENIED.
    """
    policy = current_policy()
    record = services().store.get_collection_by_id(calendar_id)
    if record is None or record.tag != "VCALENDAR" or (
            workspace is not None and record.workspace_id != workspace.id):
        raise CalendarNotFound()
    denial = policy.calendar_denial(record)
    if denial is Denial.NOT_FOUND:
        raise CalendarNotFound()
    if denial is Denial.RESTRICTED:
        raise TokenDenied(f"This token may not use calendar {calendar_id}.")
    if not getattr(policy.rights(record), need):
        raise AccessDenied(f"This token may not {need} calendar {calendar_id}.")
    return record
