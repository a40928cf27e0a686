"""Workspace Calendars API (seed 000): /api/v2/w/{workspace_uuid}/calendars."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable

from flask import Response, jsonify
from pydantic import Field

from bridge.api import WORKSPACE_CALENDARS, bearer_blueprint
from bridge.auth import calendar_of_request, current_policy, require_scope, workspace_of_request
from bridge.core.times import iso_z
from bridge.errors import AccessDenied, ValidationFailed
from bridge.etags import check_if_match, if_match
from bridge.mapping.calendars import fields_from_props, props_with_fields
from bridge.models import (
    ApiModel,
    CalendarAccess,
    DatabaseId,
    ShareResponse,
    TimeZoneName,
    WorkspacePath,
    problem_responses,
    share_json,
)
from bridge.service import calendars as calendar_service
from bridge.service.schedules import schedules_of
from bridge.services import services
from bridge.store.access import READ, WRITE
from bridge.store.accounts import Workspace
from bridge.store.store import CollectionRecord

calendars_blueprint = bearer_blueprint("calendars", __name__, WORKSPACE_CALENDARS, "calendars",
                                       "Calendar and scheduling management")

COLOR_PATTERN = r"^#[0-9A-Fa-f]{6}$"


class ScheduleResponse(ApiModel):  # completed by the schedules module
    id: int


class CalendarResponse(ApiModel):
    id: int
    uuid: str = Field(description="The collection name in CalDAV: /<owner>/<uuid>/")
    workspace_uuid: str
    name: str
    description: str | None
    timezone: str | None
    color: str | None
    caldav_url: str
    owner: str
    owner_email: str | None
    availability_mode: str = Field(description="open (no schedules) or scheduled")
    schedules: list[dict] | None = None
    etag: str
    sync_token: str
    created_at: str
    updated_at: str
    access: CalendarAccess | None = Field(
        description="how the caller's user reaches it: owner, admin (of the workspace), or "
                    "the level of a share (freebusy, read, read-write); a token may narrow it")
    shared_with: list[ShareResponse] | None = Field(
        description="its shares; listed to those who may share it (owner, workspace admins "
                    "with calendars:admin), null for everyone else")


class CalendarPage(ApiModel):
    items: list[CalendarResponse]
    page: int
    page_size: int
    total: int
    total_pages: int
    has_next: bool
    has_previous: bool


class ListQuery(ApiModel):
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=200, alias="pageSize")
    include_schedules: bool = Field(False, alias="includeSchedules")


class GetQuery(ApiModel):
    include_schedules: bool = Field(False, alias="includeSchedules")


class CalendarPath(WorkspacePath):
    calendar_id: DatabaseId


class _CalendarFields(ApiModel):
    description: str | None = Field(None, max_length=2000)
    timezone: TimeZoneName | None = Field(None, description="IANA time zone, e.g. Europe/Berlin")
    color: str | None = Field(None, pattern=COLOR_PATTERN)


class CreateCalendarRequest(_CalendarFields):
    name: str = Field(min_length=1, max_length=255)
    owner: str | None = Field(None, description="username of the owner; default: the caller")


class UpdateCalendarRequest(_CalendarFields):
    name: str | None = Field(None, min_length=1, max_length=255)


class DeletedResponse(ApiModel):
    success: bool
    id: int
    message: str


def render_calendar(record: CollectionRecord, workspace: Workspace,
                    include_schedules: bool = False) -> dict:
    svc = services()
    policy = current_policy()
    fields = fields_from_props(record.props, record.path.rsplit("/", 1)[-1])
    owner = svc.accounts.get_user(record.owner)
    schedules = schedules_of(record)
    response = CalendarResponse(
        id=record.id, uuid=record.path.rsplit("/", 1)[-1], workspace_uuid=workspace.uuid,
        name=fields.name, description=fields.description, timezone=fields.timezone,
        color=fields.color, caldav_url=f"{svc.settings.base_url}/{record.path}/",
        owner=record.owner, owner_email=owner.email if owner else None,
        availability_mode="scheduled" if schedules else "open",
        schedules=schedules if include_schedules else None, etag=record.etag,
        sync_token=record.sync_token, created_at=iso_z(record.created_at),
        updated_at=iso_z(record.updated_at), access=policy.access(record),
        shared_with=[ShareResponse.model_validate(share_json(s, workspace.uuid))
                     for s in svc.store.shares.of_calendar(record.id)]
        if policy.may_share(record) else None)
    # Every declared field is present (null when unset); schedules only when asked for.
    return response.model_dump(by_alias=True,
                               exclude=None if include_schedules else {"schedules"})


def calendar_reply(record: CollectionRecord, workspace: Workspace, status: int = 200,
                   include_schedules: bool = False) -> Response:
    response = jsonify(render_calendar(record, workspace, include_schedules))
    response.status_code = status
    response.headers["ETag"] = record.etag
    return response


def revision_of(record: CollectionRecord) -> int | None:
    """The revision an If-Match names (checked again inside the write transaction); None
    without one: only an If-Match may turn a write into 412, never a concurrent event write."""
    check_if_match(record.etag)
    return record.revision if if_match() not in (None, "*") else None


def update_props(record: CollectionRecord,
                 change: Callable[[CollectionRecord], dict[str, str]]) -> CollectionRecord:
    """``change(current)`` over the calendar's properties as they are inside its write lock
    (bridge.service.calendars); the request's If-Match is checked there again."""
    return calendar_service.update_props(services().store, record, change, if_match())


@calendars_blueprint.get("", responses={200: CalendarPage, **problem_responses(400)})
def list_calendars(path: WorkspacePath, query: ListQuery):  # type: ignore[no-untyped-def]
    """List all calendars accessible to the authenticated user."""
    workspace = workspace_of_request(path.workspace_uuid)
    policy = require_scope(READ)
    visible = [c for c in services().store.calendars_in_workspace(workspace.id)
               if policy.calendar_denial(c) is None]
    total = len(visible)
    start = (query.page - 1) * query.page_size
    items = [render_calendar(c, workspace, query.include_schedules)
             for c in visible[start:start + query.page_size]]
    pages = math.ceil(total / query.page_size) if total else 0
    return {"items": items, "page": query.page, "pageSize": query.page_size, "total": total,
            "totalPages": pages, "hasNext": query.page < pages, "hasPrevious": query.page > 1}


@calendars_blueprint.post("", responses={201: CalendarResponse, **problem_responses(400)})
def create_calendar(path: WorkspacePath, body: CreateCalendarRequest):  # type: ignore[no-untyped-def]
    """Create a new calendar: open/unconstrained by default (no schedules)."""
    workspace = workspace_of_request(path.workspace_uuid)
    policy = require_scope(WRITE)
    if policy.token is not None and policy.token.access_level != "full_access":
        raise AccessDenied("This token's access level does not allow writes.")
    owner = body.owner or policy.user.username
    if owner != policy.user.username:
        if not policy.is_admin_of(workspace.id):
            raise AccessDenied("Only workspace admins create calendars for other members.")
        if owner not in services().accounts.members(workspace.id):
            raise ValidationFailed(f"{owner} is not a member of this workspace.", errors=[
                {"field": "owner", "code": "not_a_member", "message": "not a member"}])
    store = services().store
    store.create_collection(owner)  # the principal, if CalDAV never made it
    props = props_with_fields({}, name=body.name, description=body.description,
                              color=body.color, timezone=body.timezone)
    record, _, _ = store.create_collection(f"{owner}/{uuid.uuid4()}", props,
                                           workspace_id=workspace.id)
    return calendar_reply(record, workspace, 201)


@calendars_blueprint.get("/<int:calendar_id>", responses={200: CalendarResponse})
def get_calendar(path: CalendarPath, query: GetQuery):  # type: ignore[no-untyped-def]
    """Get a specific calendar by ID."""
    workspace = workspace_of_request(path.workspace_uuid)
    record = calendar_of_request(path.calendar_id, "freebusy", workspace)
    return calendar_reply(record, workspace, include_schedules=query.include_schedules)


@calendars_blueprint.put("/<int:calendar_id>",
                         responses={200: CalendarResponse, **problem_responses(400, 412)})
def update_calendar(path: CalendarPath, body: UpdateCalendarRequest):  # type: ignore[no-untyped-def]
    """Update an existing calendar: omitted fields stay, null clears an optional field."""
    workspace = workspace_of_request(path.workspace_uuid)
    record = calendar_of_request(path.calendar_id, "configure", workspace)
    given = body.model_fields_set
    if "name" in given and body.name is None:
        raise ValidationFailed("name cannot be cleared.", errors=[
            {"field": "name", "code": "required", "message": "name cannot be null"}])
    clear = frozenset(f for f in ("description", "color", "timezone")
                      if f in given and getattr(body, f) is None)
    check_if_match(record.etag)
    updated = update_props(record, lambda current: props_with_fields(
        current.props, name=body.name, description=body.description, color=body.color,
        timezone=body.timezone, clear=clear))
    return calendar_reply(updated, workspace)


@calendars_blueprint.delete("/<int:calendar_id>",
                            responses={200: DeletedResponse, **problem_responses(412)})
def delete_calendar(path: CalendarPath):  # type: ignore[no-untyped-def]
    """Delete a calendar and every event in it (CalDAV clients see it disappear)."""
    workspace = workspace_of_request(path.workspace_uuid)
    record = calendar_of_request(path.calendar_id, "delete", workspace)
    services().store.delete_collection(record.id, revision_of(record))
    return {"success": True, "id": record.id, "message": "Calendar deleted"}


