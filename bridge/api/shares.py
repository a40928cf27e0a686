"""Shares of a calendar: /api/v2/w/{workspace_uuid}/calendars/{id}/shares.

Decisions (the store's and the policy's are in ``bridge.store.shares`` and ``access``):
- Managing shares needs ``calendars:admin`` and the right to share the calendar: its owner
  or a workspace admin (``AccessPolicy.may_share``). Recipients see their own access on the
  calendar (``access`` of the calendar response), not the list of who else it is shared with.
- POST names one recipient: ``username`` or ``email`` of a member of the calendar's
  workspace, or ``workspace: true`` for every member, present and future. POSTing the same
  recipient again changes the level of that share (200) instead of making a second one (201).
  Someone outside the workspace is 400, worded the same whether or not the user exists.
- A share made here is accepted at once: it appears in the recipient's CalDAV home at their
  next sync. DELETE revokes it at once (the next PROPFIND no longer lists it; writes 403/404).
"""

from __future__ import annotations

from flask import request
from pydantic import Field, model_validator

from bridge.api import ONE_CALENDAR, bearer_blueprint
from bridge.auth import calendar_of_request, current_policy, require_scope, workspace_of_request
from bridge.errors import AccessDenied, ResourceNotFound, ValidationFailed
from bridge.models import (
    ApiModel,
    DatabaseId,
    ShareLevel,
    ShareResponse,
    WorkspacePath,
    problem_responses,
    share_json,
)
from bridge.services import services
from bridge.store.access import ADMIN
from bridge.store.accounts import User, Workspace
from bridge.store.shares import Share
from bridge.store.store import CollectionRecord

shares_blueprint = bearer_blueprint("shares", __name__, ONE_CALENDAR, "shares",
                                    "Share a calendar with members or the whole workspace")


class SharesPath(WorkspacePath):
    calendar_id: DatabaseId


class SharePath(SharesPath):
    share_id: DatabaseId


class CreateShareRequest(ApiModel):
    username: str | None = Field(None, min_length=1, max_length=255,
                                 description="a member of the calendar's workspace")
    email: str | None = Field(None, min_length=3, max_length=320,
                              description="... or that member's email")
    workspace: bool = Field(False, description="share with every member of the workspace, "
                                               "present and future")
    access: ShareLevel = Field("read", description="freebusy, read or read-write")

    @model_validator(mode="after")
    def _one_recipient(self) -> CreateShareRequest:
        if [self.username is not None, self.email is not None, self.workspace].count(True) != 1:
            raise ValueError("name exactly one recipient: username, email or workspace: true")
        return self


class ShareList(ApiModel):
    items: list[ShareResponse]


def _shared_calendar(path: SharesPath) -> tuple[CollectionRecord, Workspace]:
    workspace = workspace_of_request(path.workspace_uuid)
    require_scope(ADMIN)
    record = calendar_of_request(path.calendar_id, "freebusy", workspace)
    if not current_policy().may_share(record):
        raise AccessDenied("Only the calendar's owner and workspace admins share it.")
    return record, workspace


def _render(share: Share, workspace: Workspace) -> dict:
    return share_json(share, workspace.uuid)


def _recipient(body: CreateShareRequest, workspace: Workspace) -> User:
    accounts = services().accounts
    user = accounts.get_user(body.username) if body.username is not None else \
        accounts.get_user_by_email(body.email or "")
    field = "username" if body.username is not None else "email"
    if user is None or user.username not in accounts.members(workspace.id):
        raise ValidationFailed("No member of this workspace has that "
                               f"{field}.", errors=[{"field": field, "code": "not_a_member",
                                                     "message": "not a member of the workspace"}])
    return user


def _share_of(record: CollectionRecord, share_id: int) -> Share:
    share = services().store.shares.get(share_id)
    if share is None or share.calendar_id != record.id:
        raise ResourceNotFound("Share not found.", code="SHARE_NOT_FOUND")
    return share


@shares_blueprint.get("/shares", responses={200: ShareList})
def list_shares(path: SharesPath):  # type: ignore[no-untyped-def]
    """Who the calendar is shared with, and how."""
    record, workspace = _shared_calendar(path)
    return {"items": [_render(s, workspace)
                      for s in services().store.shares.of_calendar(record.id)]}


@shares_blueprint.post("/shares", responses={200: ShareResponse, 201: ShareResponse,
                                             **problem_responses(400)})
def create_share(path: SharesPath, body: CreateShareRequest):  # type: ignore[no-untyped-def]
    """Share the calendar (201), or change the level of an existing share (200)."""
    record, workspace = _shared_calendar(path)
    shares = services().store.shares
    actor = current_policy().user.username
    field = "workspace" if body.workspace else "username" if body.username else "email"
    try:
        if body.workspace:
            share, created = shares.share_with_workspace(record.id, body.access, actor)
        else:
            user = _recipient(body, workspace)
            share, created = shares.share_with_user(record.id, user.id, body.access, actor)
    except ValueError as exc:  # the owner, or a membership that ended meanwhile
        raise ValidationFailed(f"{str(exc).capitalize()}.", errors=[
            {"field": field, "code": "invalid", "message": str(exc)}]) from exc
    headers = {"Location": f"{request.path}/{share.id}"}
    return _render(share, workspace), 201 if created else 200, headers


@shares_blueprint.get("/shares/<int:share_id>", responses={200: ShareResponse})
def get_share(path: SharePath):  # type: ignore[no-untyped-def]
    """One share."""
    record, workspace = _shared_calendar(path)
    return _render(_share_of(record, path.share_id), workspace)


@shares_blueprint.delete("/shares/<int:share_id>", responses={200: ShareResponse})
def delete_share(path: SharePath):  # type: ignore[no-untyped-def]
    """Revoke the share at once; answers the share as it was."""
    record, workspace = _shared_calendar(path)
    share = _share_of(record, path.share_id)
    return _render(services().store.shares.remove(share.id), workspace)
