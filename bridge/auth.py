"""REST authentication: a Bearer token becomes the request's AccessPolicy."""

from __future__ import annotations

from flask import g, request

from bridge.errors import AuthFailed, RateLimited, ResourceNotFound
from bridge.services import services
from radicale_plugin.access import AccessPolicy, authenticate
from radicale_plugin.accounts import TOKEN_PREFIX, Workspace

PUBLIC_PATHS = ("/api/health", "/api/openapi.json", "/api/docs", "/api/openapi")


def authenticate_request() -> None:
    """before_request of the API: everything but health and the API docs needs a token."""
    if request.method == "OPTIONS" or request.path.startswith(PUBLIC_PATHS):
        return
    svc = services()
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    secret = secret.strip()
    keys = svc.throttle.keys(request.remote_addr, None)
    if secret.startswith(TOKEN_PREFIX):
        keys.append("token:" + secret[len(TOKEN_PREFIX):].partition("_")[0])
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
