"""Subscription feeds: their management under a calendar (`calendars:admin`), and the public
`GET /ics/<token>.ics` that Google Calendar, Outlook and Apple Calendar poll (no Bearer token:
the secret in the URL is the credential)."""

from __future__ import annotations

import datetime as dt
from typing import Literal, cast
from urllib.parse import urlsplit, urlunsplit

from flask import Response, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import ConfigDict, Field, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from bridge.auth import calendar_of_request, require_scope, workspace_of_request
from bridge.core.times import iso_z, iso_z_or_none
from bridge.errors import ResourceNotFound, ValidationFailed
from bridge.feeds import FeedLimits, FeedRequest, answer_feed
from bridge.models import (
    ApiModel,
    DatabaseId,
    Responses,
    StorableValuesModel,
    WorkspacePath,
    problem_responses,
)
from bridge.services import services
from bridge.store.access import ADMIN
from bridge.store.feeds import MAX_WINDOW_DAYS, FeedToken, FeedTokens
from bridge.store.store import CollectionRecord

feeds_blueprint = APIBlueprint(
    "feeds", __name__, url_prefix="/api/v2/w/<workspace_uuid>/calendars/<int:calendar_id>",
    abp_tags=[Tag(name="feeds", description="Secret .ics subscription URLs of a calendar")],
    abp_security=[{"bearer": []}], abp_responses=problem_responses(401, 403, 404, 429))

ics_blueprint = APIBlueprint(
    "ics", __name__, url_prefix="/ics",
    abp_tags=[Tag(name="feeds")], abp_responses=problem_responses(400, 404))

FeedKind = Literal["full", "freebusy"]


class FeedsPath(WorkspacePath):
    calendar_id: DatabaseId


class FeedPath(FeedsPath):
    feed_id: DatabaseId


class CreateFeedRequest(ApiModel):
    kind: FeedKind = Field("full", description="full: every object; freebusy: only busy "
                                               "periods, titled Busy")
    window_past_days: int | None = Field(
        None, ge=0, le=MAX_WINDOW_DAYS,
        description="only objects (full) or busy periods (freebusy) from this many days back; "
                    "default: all (full), 30 (freebusy)")
    window_future_days: int | None = Field(
        None, ge=0, le=MAX_WINDOW_DAYS,
        description="... up to this many days ahead; default: all (full), 180 (freebusy)")
    include_private: bool = Field(
        False, description="full feeds only: also publish alarms (VALARM) and the attendees' "
                           "and organizer's names and addresses; off by default")

    @field_validator("include_private")
    @classmethod
    def _full_only(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("kind", "full") != "full":
            raise ValueError("a free/busy feed never shows private data")
        return value


class FeedResponse(ApiModel):
    id: int
    calendar_id: int
    kind: FeedKind
    window_past_days: int | None
    window_future_days: int | None
    include_private: bool
    token_prefix: str = Field(description="The public part of the token; the secret is shown "
                                          "only when the feed is created or rotated")
    masked_url: str
    status: Literal["active", "revoked"]
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class CreatedFeed(FeedResponse):
    url: str = Field(description="The secret feed URL; shown only in this response")
    webcal_url: str = Field(description="The same, as webcal:// for one-click subscription")


class FeedList(ApiModel):
    items: list[FeedResponse]


class IcsPath(StorableValuesModel):
    token: str


class IcsQuery(StorableValuesModel):
    """Subscribers add parameters of their own (cache busters): unknown ones are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")
    past_days: int | None = Field(None, ge=0, le=MAX_WINDOW_DAYS,
                                  description="narrow the feed to this many days back")
    future_days: int | None = Field(None, ge=0, le=MAX_WINDOW_DAYS,
                                    description="narrow the feed to this many days ahead")


def feed_urls(token: str) -> tuple[str, str]:
    """(https or http URL per server.base_url, the webcal:// URL) of a feed token."""
    base = services().settings.base_url.rstrip("/")
    url = f"{base}/ics/{token}.ics"
    parts = urlsplit(url)
    return url, urlunsplit(("webcal", *parts[1:]))


def render_feed(feed: FeedToken, token: str | None = None) -> dict:
    response = FeedResponse(
        id=feed.id, calendar_id=feed.calendar_id,
        kind=cast(FeedKind, feed.kind),  # the store keeps only the kinds this API writes
        window_past_days=feed.window_past_days, window_future_days=feed.window_future_days,
        include_private=feed.include_private, token_prefix=feed.masked_token,
        masked_url=feed_urls(feed.masked_token)[0],
        status="revoked" if feed.revoked_at is not None else "active",
        created_at=iso_z(feed.created_at), last_used_at=iso_z_or_none(feed.last_used_at),
        revoked_at=iso_z_or_none(feed.revoked_at))
    if token is None:
        return response.model_dump(by_alias=True)
    url, webcal_url = feed_urls(token)
    return CreatedFeed(**response.model_dump(), url=url, webcal_url=webcal_url
                       ).model_dump(by_alias=True)


def feed_limits() -> FeedLimits:
    settings = services().settings
    return FeedLimits(max_past_days=int(settings.get("input", "max_feed_past_days")),
                      max_future_days=int(settings.get("input", "max_feed_future_days")),
                      max_instances=int(settings.get("input", "max_feed_instances")))


def check_window(limits: FeedLimits, past: tuple[str, int | None],
                 future: tuple[str, int | None]) -> None:
    """400 WINDOW_TOO_LARGE for days beyond the configured maxima; each pair is (field name,
    days)."""
    errors = [{"field": name, "code": "less_than_equal", "message": f"at most {limit} days"}
              for (name, value), limit in ((past, limits.max_past_days),
                                           (future, limits.max_future_days))
              if value is not None and value > limit]
    if errors:
        raise ValidationFailed("The window reaches further than this server allows.",
                               code="WINDOW_TOO_LARGE", errors=errors)


def administered_calendar(path: FeedsPath) -> CollectionRecord:
    """The calendar of the path, if the caller may manage its feeds (calendars:admin)."""
    workspace = workspace_of_request(path.workspace_uuid)
    require_scope(ADMIN)
    return calendar_of_request(path.calendar_id, "delete", workspace)


def feed_of_calendar(calendar: CollectionRecord, feed_id: int) -> FeedToken:
    feed = FeedTokens(services().store).get(feed_id)
    if feed is None or feed.calendar_id != calendar.id:
        raise ResourceNotFound("Feed not found.", code="FEED_NOT_FOUND")
    return feed


@feeds_blueprint.get("/feeds", responses={200: FeedList})
def list_feeds(path: FeedsPath):  # type: ignore[no-untyped-def]
    """The calendar's feeds, revoked ones included (never their secrets)."""
    calendar = administered_calendar(path)
    return {"items": [render_feed(f) for f in FeedTokens(services().store).list(calendar.id)]}


@feeds_blueprint.post("/feeds", responses={201: CreatedFeed, **problem_responses(400)})
def create_feed(path: FeedsPath, body: CreateFeedRequest):  # type: ignore[no-untyped-def]
    """Create a feed; its secret URL is shown only in this response."""
    calendar = administered_calendar(path)
    check_window(feed_limits(), ("windowPastDays", body.window_past_days),
                 ("windowFutureDays", body.window_future_days))
    token, feed = FeedTokens(services().store).create(
        calendar.id, body.kind, body.window_past_days, body.window_future_days,
        body.include_private)
    location = f"{request.path}/{feed.id}"
    return render_feed(feed, token), 201, {"Location": location}


@feeds_blueprint.get("/feeds/<int:feed_id>", responses={200: FeedResponse})
def get_feed(path: FeedPath):  # type: ignore[no-untyped-def]
    """One feed (its secret is not stored, so its URL is shown masked)."""
    calendar = administered_calendar(path)
    return render_feed(feed_of_calendar(calendar, path.feed_id))


@feeds_blueprint.post("/feeds/<int:feed_id>/rotate",
                      responses={200: CreatedFeed, **problem_responses(409)})
def rotate_feed(path: FeedPath):  # type: ignore[no-untyped-def]
    """A new secret URL for the feed; the old URL answers 404 from now on."""
    calendar = administered_calendar(path)
    feed = feed_of_calendar(calendar, path.feed_id)
    token, rotated = FeedTokens(services().store).rotate(feed.id)
    return render_feed(rotated, token)


@feeds_blueprint.delete("/feeds/<int:feed_id>", responses={200: FeedResponse})
def revoke_feed(path: FeedPath):  # type: ignore[no-untyped-def]
    """Revoke the feed at once: its URL answers 404 from now on."""
    calendar = administered_calendar(path)
    feed = feed_of_calendar(calendar, path.feed_id)
    return render_feed(FeedTokens(services().store).revoke(feed.id))


ICS_RESPONSES: Responses = {
    200: {"description": "The calendar as one VCALENDAR",
          "content": {"text/calendar": {"schema": {"type": "string"}}}},
    304: {"description": "Not modified since the ETag or If-Modified-Since"},
}


@ics_blueprint.get("/<token>.ics", security=[], responses=ICS_RESPONSES)
def calendar_feed(path: IcsPath, query: IcsQuery):  # type: ignore[no-untyped-def]
    """Subscription feed of a calendar (the secret URL is the credential).

    One VCALENDAR (text/calendar), 304 for a current ETag or If-Modified-Since, gzip when
    accepted. An unknown or revoked token is 404.
    """
    store = services().store
    limits = feed_limits()
    check_window(limits, ("pastDays", query.past_days), ("futureDays", query.future_days))
    feed = FeedTokens(store).resolve(path.token)
    calendar = store.get_collection_by_id(feed.calendar_id) if feed is not None else None
    if feed is None or calendar is None:
        raise ResourceNotFound("Not found.")
    reply = answer_feed(store, feed, calendar, FeedRequest(
        past_days=query.past_days, future_days=query.future_days,
        if_none_match=request.headers.get("If-None-Match"),
        if_modified_since=request.if_modified_since,
        gzip=request.accept_encodings["gzip"] > 0, now=dt.datetime.now(dt.UTC)),
        limits=limits)
    return Response(reply.body, status=reply.status, headers=reply.headers,
                    direct_passthrough=True)
