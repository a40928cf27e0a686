"""Webhooks of a workspace: /api/v2/w/{workspace_uuid}/webhooks (calendars:admin, workspace
admins only).

Decisions:
- An endpoint receives the changes of every calendar of the workspace, or of the one
  ``calendarId`` it names, whichever door made them (CalDAV, REST, import); payloads name what
  changed (ids and the calendar's sync token), never its content (bridge/notify/webhooks.py).
- A token restricted to some calendars may only create endpoints for one of them: a webhook
  must not tell its receiver about calendars the token that made it cannot see.
- The signing secret (``whsec_...``) is shown once, in the creation's answer.
- Deliveries are logged (``GET .../deliveries``, newest first); ``POST .../ping`` queues a
  ``webhook.ping``; an endpoint disabled after repeated failures is enabled again by
  ``POST .../enable``.
"""

from __future__ import annotations

from typing import Literal

from flask import request
from pydantic import Field

from bridge.api import bearer_blueprint
from bridge.auth import calendar_of_request, require_scope, workspace_of_request
from bridge.core.times import iso_z, iso_z_or_none
from bridge.errors import AccessDenied, ResourceNotFound, ValidationFailed
from bridge.models import ApiModel, DatabaseId, WorkspacePath, problem_responses
from bridge.notify.targets import TargetRefused
from bridge.services import services
from bridge.store.access import ADMIN
from bridge.store.accounts import Workspace
from bridge.store.notify import EVENT_TYPES, PING, Delivery, Endpoint

webhooks_blueprint = bearer_blueprint("webhooks", __name__, "/api/v2/w/<workspace_uuid>/webhooks",
                                      "webhooks", "Signed notifications of changes "
                                                  "(Standard Webhooks)")

EventType = Literal["event.created", "event.updated", "event.deleted", "calendar.created",
                    "calendar.updated", "calendar.deleted"]


class WebhookPath(WorkspacePath):
    webhook_id: str = Field(max_length=36)


class CreateWebhookRequest(ApiModel):
    url: str = Field(min_length=1, max_length=2048,
                     description="Where deliveries are POSTed (https, a public address)")
    event_types: list[EventType] | None = Field(
        None, min_length=1, description="What to deliver; default: every type")
    calendar_id: DatabaseId | None = Field(None, description="Only this calendar's changes")
    description: str = Field("", max_length=255)


class WebhookResponse(ApiModel):
    id: str
    url: str
    description: str
    event_types: list[str]
    calendar_id: int | None
    enabled: bool
    disabled_reason: str | None
    created_at: str


class CreatedWebhook(WebhookResponse):
    secret: str = Field(description="The signing secret (whsec_...): shown only here")


class WebhookList(ApiModel):
    items: list[WebhookResponse]


class DeliveryResponse(ApiModel):
    id: int
    message_id: str = Field(description="The webhook-id header: the same on every retry")
    event_type: str
    status: Literal["queued", "sending", "delivered", "failed"]
    attempts: int
    last_status: int | None = Field(description="The receiver's last HTTP status")
    last_error: str | None
    created_at: str
    next_attempt_at: str | None
    delivered_at: str | None
    payload: str


class DeliveryList(ApiModel):
    items: list[DeliveryResponse]


class DeletedWebhook(ApiModel):
    success: bool
    id: str


def render_webhook(endpoint: Endpoint) -> dict:
    return WebhookResponse(
        id=endpoint.public_id, url=endpoint.url, description=endpoint.description,
        event_types=list(endpoint.event_types), calendar_id=endpoint.calendar_id,
        enabled=endpoint.enabled, disabled_reason=endpoint.disabled_reason,
        created_at=iso_z(endpoint.created_at)).model_dump(by_alias=True)


def render_delivery(delivery: Delivery) -> dict:
    return DeliveryResponse(
        id=delivery.id, message_id=delivery.message_id, event_type=delivery.event_type,
        status=delivery.status,  # type: ignore[arg-type]  # the store writes only these
        attempts=delivery.attempts, last_status=delivery.last_status,
        last_error=delivery.last_error, created_at=iso_z(delivery.created_at),
        next_attempt_at=iso_z(delivery.next_attempt_at)
        if delivery.status == "queued" else None,
        delivered_at=iso_z_or_none(delivery.delivered_at), payload=delivery.payload,
    ).model_dump(by_alias=True)


def administered_workspace(workspace_uuid: str) -> Workspace:
    workspace = workspace_of_request(workspace_uuid)
    policy = require_scope(ADMIN)
    if not policy.is_admin_of(workspace.id):
        raise AccessDenied("Only workspace admins manage webhooks.")
    return workspace


def webhook_of(path: WebhookPath) -> Endpoint:
    workspace = administered_workspace(path.workspace_uuid)
    endpoint = services().webhooks.get(workspace.id, path.webhook_id)
    if endpoint is None:
        raise ResourceNotFound("Webhook not found.", code="WEBHOOK_NOT_FOUND")
    return endpoint


@webhooks_blueprint.get("", responses={200: WebhookList})
def list_webhooks(path: WorkspacePath):  # type: ignore[no-untyped-def]
    """The workspace's webhook endpoints (never their secrets)."""
    workspace = administered_workspace(path.workspace_uuid)
    return {"items": [render_webhook(e) for e in services().webhooks.in_workspace(workspace.id)]}


@webhooks_blueprint.post("", responses={201: CreatedWebhook, **problem_responses(400)})
def create_webhook(path: WorkspacePath, body: CreateWebhookRequest):  # type: ignore[no-untyped-def]
    """Register an endpoint; its signing secret is shown only in this answer."""
    workspace = administered_workspace(path.workspace_uuid)
    policy = require_scope(ADMIN)
    if body.calendar_id is not None:
        calendar_of_request(body.calendar_id, "read", workspace)
    elif policy.token is not None and policy.token.calendar_ids is not None:
        raise AccessDenied("This token is limited to some calendars: name one (calendarId).")
    try:
        services().webhook_settings.targets.check(body.url)
    except TargetRefused as exc:
        raise ValidationFailed(f"The URL is refused: {exc}.", code="WEBHOOK_URL_REFUSED",
                               errors=[{"field": "url", "code": "refused",
                                        "message": str(exc)}]) from exc
    endpoint = services().webhooks.create(
        workspace.id, body.url, body.event_types or list(EVENT_TYPES), body.calendar_id,
        body.description, policy.user.username)
    answer = CreatedWebhook(**WebhookResponse.model_validate(render_webhook(endpoint))
                            .model_dump(), secret=endpoint.secret).model_dump(by_alias=True)
    return answer, 201, {"Location": f"{request.path}/{endpoint.public_id}"}


@webhooks_blueprint.get("/<webhook_id>", responses={200: WebhookResponse})
def get_webhook(path: WebhookPath):  # type: ignore[no-untyped-def]
    """One endpoint (its secret is never shown again)."""
    return render_webhook(webhook_of(path))


@webhooks_blueprint.delete("/<webhook_id>", responses={200: DeletedWebhook})
def delete_webhook(path: WebhookPath):  # type: ignore[no-untyped-def]
    """Delete the endpoint and its delivery log; nothing more is sent to it."""
    endpoint = webhook_of(path)
    services().webhooks.delete(endpoint.id)
    return {"success": True, "id": endpoint.public_id}


@webhooks_blueprint.get("/<webhook_id>/deliveries", responses={200: DeliveryList})
def list_deliveries(path: WebhookPath):  # type: ignore[no-untyped-def]
    """The endpoint's last 100 deliveries, newest first, with their outcome."""
    endpoint = webhook_of(path)
    return {"items": [render_delivery(d) for d in services().webhooks.deliveries(endpoint.id)]}


@webhooks_blueprint.post("/<webhook_id>/ping", responses={202: DeliveryResponse})
def ping_webhook(path: WebhookPath):  # type: ignore[no-untyped-def]
    """Queue a signed webhook.ping delivery to the endpoint."""
    endpoint = webhook_of(path)
    workspace = administered_workspace(path.workspace_uuid)
    delivery = services().webhooks.enqueue(endpoint.id, PING, {"workspaceId": workspace.uuid,
                                                               "webhookId": endpoint.public_id})
    return render_delivery(delivery), 202


@webhooks_blueprint.post("/<webhook_id>/enable", responses={200: WebhookResponse})
def enable_webhook(path: WebhookPath):  # type: ignore[no-untyped-def]
    """Enable an endpoint that was disabled after repeated failures; its queued deliveries
    are sent again."""
    endpoint = webhook_of(path)
    services().webhooks.enable(endpoint.id)
    enabled = services().webhooks.by_id(endpoint.id)
    assert enabled is not None
    return render_webhook(enabled)
