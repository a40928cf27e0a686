"""Token introspection (`GET /api/access/token`) and workspace-admin token management."""

from __future__ import annotations

from typing import Literal

from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field

from bridge.auth import current_policy, workspace_of_request
from bridge.core.times import iso_z_or_none
from bridge.errors import AccessDenied, ResourceNotFound, ValidationFailed
from bridge.models import ApiModel, DatabaseId, WorkspacePath, problem_responses
from bridge.services import services
from bridge.store.access import ADMIN
from bridge.store.accounts import Token

tokens_blueprint = APIBlueprint("tokens", __name__, url_prefix="/api",
                                abp_tags=[Tag(name="tokens")],
                                abp_security=[{"bearer": []}],
                                abp_responses=problem_responses(401, 403, 404, 429))

Scope = Literal["calendars:read", "calendars:write", "calendars:admin"]
AccessLevel = Literal["free_busy_only", "view_only", "full_access"]


class TokenResponse(ApiModel):
    id: int
    key_prefix: str
    title: str
    username: str
    workspace_uuid: str
    scopes: list[str]
    access_level: str
    allowed_operations: list[str]
    visible_fields: list[str]
    calendar_ids: list[int] | None
    timeframe_past_days: int | None
    timeframe_future_days: int | None
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None
    created_at: str


class TokenIntrospection(TokenResponse):
    email: str


class TokenList(ApiModel):
    items: list[TokenResponse]


class CreatedToken(TokenResponse):
    token: str = Field(description="The secret token; shown only in this response.")


class CreateTokenRequest(ApiModel):
    username: str
    title: str = Field("", max_length=255)
    scopes: list[Scope] = Field(min_length=1)
    access_level: AccessLevel | None = Field(
        None, description="default: full_access with calendars:write or admin, else view_only")
    allowed_operations: list[str] | None = None
    visible_fields: list[str] | None = None
    calendar_ids: list[DatabaseId] | None = None
    timeframe_past_days: int | None = Field(None, ge=0, le=36500)
    timeframe_future_days: int | None = Field(None, ge=0, le=36500)
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class TokenPath(WorkspacePath):
    token_id: DatabaseId


def token_response(record: Token, model: type[TokenResponse] = TokenResponse,
                   **extra: object) -> dict:
    svc = services()
    token = record
    user = svc.accounts.get_user_by_id(token.user_id)
    workspace = svc.accounts.get_workspace(token.workspace_id)
    assert user is not None and workspace is not None
    data = model(
        id=token.id, key_prefix=token.prefix, title=token.title, username=user.username,
        workspace_uuid=workspace.uuid, scopes=list(token.scopes),
        access_level=token.access_level, allowed_operations=list(token.operations),
        visible_fields=list(token.visible_fields),
        calendar_ids=None if token.calendar_ids is None else list(token.calendar_ids),
        timeframe_past_days=token.past_days, timeframe_future_days=token.future_days,
        expires_at=iso_z_or_none(token.expires_at), revoked_at=iso_z_or_none(token.revoked_at),
        last_used_at=iso_z_or_none(token.last_used_at),
        created_at=iso_z_or_none(token.created_at) or "",
        **extra)
    return data.model_dump(by_alias=True)


def _require_workspace_admin(workspace_uuid: str) -> int:
    workspace = workspace_of_request(workspace_uuid)
    policy = current_policy()
    if not policy.has_scope(ADMIN) or not policy.is_admin_of(workspace.id):
        raise AccessDenied("Managing tokens needs calendars:admin and the workspace admin role.")
    return workspace.id


@tokens_blueprint.get("/access/token", responses={200: TokenIntrospection})
def introspect_token():  # type: ignore[no-untyped-def]
    """Who this token is, its workspace, scopes, restrictions and expiry."""
    policy = current_policy()
    assert policy.token is not None
    return token_response(policy.token, TokenIntrospection, email=policy.user.email)


@tokens_blueprint.get("/v2/w/<workspace_uuid>/tokens", responses={200: TokenList})
def list_tokens(path: WorkspacePath):  # type: ignore[no-untyped-def]
    """Every token of the workspace (never their secrets)."""
    workspace_id = _require_workspace_admin(path.workspace_uuid)
    tokens = services().accounts.tokens(workspace_id=workspace_id)
    return {"items": [token_response(t) for t in tokens]}


@tokens_blueprint.post("/v2/w/<workspace_uuid>/tokens",
                       responses={201: CreatedToken, **problem_responses(400)})
def create_token(path: WorkspacePath, body: CreateTokenRequest):  # type: ignore[no-untyped-def]
    """Create a token for a member of the workspace; the secret is shown once."""
    workspace_id = _require_workspace_admin(path.workspace_uuid)
    if body.username not in services().accounts.members(workspace_id):
        raise ValidationFailed(f"{body.username} is not a member of this workspace.",
                               errors=[{"field": "username", "code": "not_a_member",
                                        "message": "not a member of this workspace"}])
    try:
        secret, token = services().accounts.create_token(
            body.username, workspace_id, body.scopes, title=body.title,
            access_level=body.access_level, operations=body.allowed_operations,
            visible_fields=body.visible_fields, calendar_ids=body.calendar_ids,
            past_days=body.timeframe_past_days, future_days=body.timeframe_future_days,
            expires_in_days=body.expires_in_days)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from exc
    return token_response(token, CreatedToken, token=secret), 201


@tokens_blueprint.delete("/v2/w/<workspace_uuid>/tokens/<int:token_id>",
                         responses={200: TokenResponse})
def revoke_token(path: TokenPath):  # type: ignore[no-untyped-def]
    """Revoke a token at once, on both doors."""
    workspace_id = _require_workspace_admin(path.workspace_uuid)
    token = services().accounts.get_token(path.token_id)
    if token is None or token.workspace_id != workspace_id:
        raise ResourceNotFound("Token not found.", code="TOKEN_NOT_FOUND")
    return token_response(services().accounts.revoke_token(token.id))
