"""Access Events API (seed 004): /api/access/calendar/... for token-scoped programs and agents.

Views are thin: parse (pydantic), authorize (the token's AccessPolicy), call the store with the
pure mapping of bridge.mapping.events, render. Each write, its outbox messages and its
idempotency record are committed in one transaction.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any, Literal

from flask import Response, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field, field_validator, model_validator

from bridge.api.schedules import AVAILABILITY_PROP
from bridge.auth import calendar_of_request, current_policy
from bridge.core.availability import Interval, merge, open_time, stored_schedules, subtract
from bridge.core.expand import parsed_objects
from bridge.core.limits import TooManyMatches, WindowTooLarge
from bridge.core.mail_header import check_email
from bridge.errors import (
    AccessDenied,
    ApiError,
    ConflictError,
    ResourceNotFound,
    TimeframeDenied,
    TokenDenied,
    ValidationFailed,
)
from bridge.etags import check_if_match
from bridge.mapping import events as mapping
from bridge.mapping.calendars import fields_from_props, is_timezone
from bridge.mapping.itip import cancel_message, reply_message, request_message
from bridge.models import (
    MAX_DATABASE_ID,
    ApiModel,
    DatabaseId,
    TimeZoneName,
    problem_responses,
)
from bridge.occurrences import DAY, Budget, Occurrence, Position, expand_occurrences, walk
from bridge.services import services
from bridge.store.access import READ, AccessPolicy
from bridge.store.idempotency import IdempotencyKeys, StoredResponse, fingerprint
from bridge.store.outbox import Outbox, OutgoingMessage
from bridge.store.store import (
    CollectionRecord,
    ExpiredSyncToken,
    InvalidSyncToken,
    ObjectRecord,
    TooManyChanges,
)

events_blueprint = APIBlueprint(
    "access_events", __name__, url_prefix="/api/access/calendar",
    abp_tags=[Tag(name="access events", description="Token-scoped events API (seed 004)")],
    abp_security=[{"bearer": []}], abp_responses=problem_responses(401, 403, 404, 429))

MAX_ATTENDEES = 100
# One incremental sync answers at most this many logged changes; past it, 410 (list again).
MAX_SYNC_CHANGES = 5000
# Which allowed operation a PATCH field needs (the token model of seed 004's peer).
FIELD_OPERATIONS = {"summary": "edit_title", "eventType": "edit_title",
                    "description": "edit_description", "location": "edit_location",
                    "from": "edit_times", "to": "edit_times", "isAllDay": "edit_times",
                    "timeZone": "edit_times", "recurrence": "edit_times",
                    "addAttendees": "edit_attendees", "removeAttendees": "edit_attendees"}
# Which visible field hides which keys of an event.
HIDDEN_KEYS = {"title": ("title", "summary"), "description": ("description",),
               "location": ("location",), "attendees": ("attendees", "responseStatus"),
               "organizer": ("organizer", "organizerName"), "status": ("status",),
               "labels": ("labels",), "join_url": ("joinUrl",),
               "times": ("start", "end", "startUtc", "endUtc", "startLocal", "endLocal",
                         "durationMinutes", "originalStartTime", "recurrence")}


def _emails(values: list[str] | None) -> list[str] | None:
    for value in values or ():
        check_email(value)
    return values


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class CreateEventRequest(ApiModel):
    calendar_id: DatabaseId = Field(description="Target calendar ID (from List Calendars)")
    summary: str = Field(min_length=1, max_length=255)
    description: str | None = Field(None, max_length=2000)
    location: str | None = Field(None, max_length=255)
    from_: dt.datetime = Field(alias="from", description="Start time (UTC)")
    to: dt.datetime = Field(description="End time (UTC)")
    is_all_day: bool = False
    attendees: list[str] = Field(default_factory=list, max_length=MAX_ATTENDEES)
    recurrence: list[str] = Field(default_factory=list, max_length=20)
    event_type: str | None = Field(None, max_length=64)
    send_notifications: bool = True
    time_zone: TimeZoneName | None = Field(None,
                                           description="IANA zone the event keeps local time in")

    _attendee_emails = field_validator("attendees")(_emails)

    @model_validator(mode="after")
    def _order(self) -> CreateEventRequest:
        if _utc(self.to) <= _utc(self.from_) and not (self.is_all_day and
                                                     _utc(self.to) == _utc(self.from_)):
            raise ValueError("'to' must be after 'from'")
        return self


class UpdateEventRequest(ApiModel):
    summary: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=2000)
    location: str | None = Field(None, max_length=255)
    from_: dt.datetime | None = Field(None, alias="from")
    to: dt.datetime | None = None
    is_all_day: bool | None = None
    add_attendees: list[str] = Field(default_factory=list, max_length=MAX_ATTENDEES)
    remove_attendees: list[str] = Field(default_factory=list, max_length=MAX_ATTENDEES)
    recurrence: list[str] | None = Field(None, max_length=20)
    event_type: str | None = Field(None, max_length=64)
    time_zone: TimeZoneName | None = None
    send_notifications: bool = True

    _attendee_emails = field_validator("add_attendees", "remove_attendees")(_emails)

    @field_validator("summary", "from_", "to", "is_all_day")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # An omitted field stays; an explicit null here would mean "no title" or "no time",
        # which the create refuses too (description, location, eventType, timeZone and
        # recurrence accept null: it clears them).
        if value is None:
            raise ValueError("cannot be null; omit the field to keep it")
        return value


class RespondRequest(ApiModel):
    status: Literal["accepted", "declined", "tentative"]
    comment: str | None = Field(None, max_length=2000)
    send_notification: bool = True


class EventPath(ApiModel):
    event_id: str = Field(alias="eventId", max_length=200)


class EventQuery(ApiModel):
    time_zone: TimeZoneName | None = Field(None, alias="timeZone",
                                           description="render start and end in this zone")


class DeleteQuery(ApiModel):
    notify_attendees: bool = Field(True, alias="notifyAttendees")


class ListQuery(ApiModel):
    from_: dt.datetime | None = Field(None, alias="from")
    to: dt.datetime | None = None
    calendar_id: DatabaseId | None = Field(None, alias="calendarId")
    q: str | None = Field(None, max_length=200)
    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0, description="instances to pass over from the window's start "
                        "(offset + limit at most [limits] max_instances_per_request)")
    page_token: str | None = Field(None, alias="pageToken", max_length=1000,
                                   description="meta.nextPageToken of the previous page")
    include_cancelled: bool = Field(False, alias="includeCancelled")
    time_zone: TimeZoneName | None = Field(None, alias="timeZone")
    sync_token: str | None = Field(None, alias="syncToken", max_length=200, description=(
        "The nextSyncToken of an earlier answer for the same calendarId: answer only what "
        "changed since (410 when the token is older than the retained change log)"))


class FreeBusyQuery(ApiModel):
    from_: dt.datetime | None = Field(None, alias="from")
    to: dt.datetime | None = None
    calendars: str | None = Field(None, description="comma separated calendar ids")


class Attendee(ApiModel):
    email: str
    name: str | None
    response: str
    optional: bool
    comment: str | None
    is_organizer: bool
    is_self: bool


class Event(ApiModel):
    """The read shape of an event (both alias sets of the seed's peer)."""

    model_config = {"extra": "allow"}
    id: str
    calendar_id: int
    i_cal_u_i_d: str | None = Field(None, alias="iCalUID")
    title: str | None = None
    summary: str | None = None
    start: dict | None = None
    end: dict | None = None
    start_utc: str | None = None
    end_utc: str | None = None
    all_day: bool | None = None
    attendees: list[Attendee] | None = None
    recurrence: list[str] | None = None
    etag: str


class EventEnvelope(ApiModel):
    event: Event
    access_info: str
    current_user_calendar_email: str
    notification_queued: bool | None = None


class ListMeta(ApiModel):
    count: int
    offset: int
    limit: int
    has_more: bool
    total_count: int = Field(description="instances in the window: exact on the last page "
                             "(hasMore false), a lower bound before it")
    next_page_token: str | None = Field(description="pass as pageToken for the next page; "
                                        "null on the last")
    truncated: bool
    from_: str = Field(alias="from")
    to: str


class EventList(ApiModel):
    events: list[Event]
    meta: ListMeta | None = None
    deleted: list[str] | None = Field(None, description="ids deleted since the syncToken")
    next_sync_token: str | None = Field(None, description="with calendarId: for the next sync")
    access_info: str
    current_user_calendar_email: str


class DeletedEvent(ApiModel):
    success: bool
    message: str
    notification_queued: bool | None = None


class AccessCalendar(ApiModel):
    id: int
    external_id: str
    name: str
    provider: str
    timezone: str | None
    is_primary: bool
    is_operator_owner: bool
    owner_email: str | None
    last_synced_at: str


class CalendarList(ApiModel):
    data: list[AccessCalendar]
    access_info: str


class BusyPeriod(ApiModel):
    start_utc: str
    end_utc: str
    duration_minutes: int


class CalendarFreeBusy(ApiModel):
    calendar_id: int
    calendar_name: str
    busy: list[BusyPeriod]
    free: list[BusyPeriod]


class FreeBusyResponse(ApiModel):
    calendars: list[CalendarFreeBusy]
    access_info: str


# -- helpers -----------------------------------------------------------------------------------

def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _policy() -> AccessPolicy:
    policy = current_policy()
    if policy.token is None:  # the REST door takes tokens only; kept explicit for clarity
        raise AccessDenied("This API needs an API token.")
    return policy


def access_info(policy: AccessPolicy) -> str:
    token = policy.token
    assert token is not None
    parts = [{"full_access": "Full access", "view_only": "View only",
              "free_busy_only": "Free/busy only"}[token.access_level]]
    if token.calendar_ids is not None:
        parts.append("calendars " + ", ".join(str(i) for i in token.calendar_ids))
    earliest, latest = policy.timeframe()
    if earliest or latest:
        parts.append("events from " + (earliest.date().isoformat() if earliest else "any time")
                     + " to " + (latest.date().isoformat() if latest else "any time"))
    # Only full access writes (accounts.effective_access): the others have no operations.
    if token.access_level == "full_access" and set(token.operations) != set(
            FIELD_OPERATIONS.values()) | {"create_events", "delete_events", "respond_to_event"}:
        parts.append("operations: " + (", ".join(token.operations) or "none"))
    return "; ".join(parts)


def require_operation(policy: AccessPolicy, operation: str) -> None:
    if not policy.may_operate(operation):
        raise TokenDenied(f"This token may not {operation.replace('_', ' ')}.")


def require_within_timeframe(policy: AccessPolicy, start: dt.datetime, end: dt.datetime
                             ) -> None:
    earliest, latest = policy.timeframe()
    if (earliest and start < earliest) or (latest and end > latest):
        window = f"{earliest.date() if earliest else '-'} to {latest.date() if latest else '-'}"
        raise TimeframeDenied(f"Event falls outside the allowed timeframe ({window}).")


def require_open_time(calendar: CollectionRecord, start: dt.datetime, end: dt.datetime) -> None:
    """A calendar with schedules books only inside its open time (the first instance)."""
    schedules = stored_schedules(calendar.props.get(AVAILABILITY_PROP))
    if schedules and subtract([(start, end)], open_time(schedules, start, end)):
        raise ConflictError("The calendar's schedules do not allow an event at this time.",
                            code="SLOT_UNAVAILABLE")


def _calendar(calendar_id: int, need: str) -> CollectionRecord:
    policy = _policy()
    record = calendar_of_request(calendar_id, need)
    if record.workspace_id != policy.workspace_id:
        raise ResourceNotFound("Calendar not found.", code="CALENDAR_NOT_FOUND")
    return record


def _event(event_id: str, need: str) -> tuple[ObjectRecord, CollectionRecord,
                                               dt.date | dt.datetime | None]:
    series_id, key = mapping.parse_instance_id(event_id)
    record = services().store.get_object_by_public_id(series_id)
    if record is None:
        raise ResourceNotFound("Event not found.", code="EVENT_NOT_FOUND")
    try:
        calendar = _calendar(record.collection_id, need)
    except ResourceNotFound as exc:  # never reveal that an invisible calendar's event exists
        raise ResourceNotFound("Event not found.", code="EVENT_NOT_FOUND") from exc
    if record.component != "VEVENT":
        raise ResourceNotFound("Event not found.", code="EVENT_NOT_FOUND")
    return record, calendar, key


def _refuse_instance(key: object, action: str) -> None:
    """Writes go to the series: one instance cannot be changed on its own yet."""
    if key is not None:
        raise ConflictError(f"{action.capitalize()} the series (its id without the instance "
                            f"suffix); {action} one instance is not supported yet.",
                            code="INSTANCE_EDIT")


def _render(record: ObjectRecord, policy: AccessPolicy, instance: Any = None) -> dict:
    cal = parsed_objects.get(record.text, record.etag)
    data = mapping.event_json(record.text, event_id=record.public_id,
                              calendar_id=record.collection_id, etag=record.etag,
                              instance=instance, viewer_email=policy.user.email,
                              calendar=cal, time_zone=request.args.get("timeZone") or None)
    token = policy.token
    if token is not None:
        for field_name, keys in HIDDEN_KEYS.items():
            if field_name not in token.visible_fields:
                for key in keys:
                    data.pop(key, None)
    return data


@events_blueprint.before_request
def _check_time_zone() -> None:
    """Every route renders events in ``?timeZone=`` (writes answer with the event too): an
    unknown zone is refused before anything is read or written, never a 500 afterwards."""
    zone = request.args.get("timeZone")
    if zone and not is_timezone(zone):
        raise ValidationFailed(f"Unknown time zone {zone!r}.", errors=[
            {"field": "timeZone", "code": "invalid", "message": "unknown IANA time zone"}])


def _envelope(event: dict, policy: AccessPolicy, **extra: object) -> dict:
    return {"event": event, "accessInfo": access_info(policy),
            "currentUserCalendarEmail": policy.user.email, **extra}


def _json_response(body: dict, status: int = 200, etag: str | None = None) -> Response:
    response = Response(json.dumps(body), status=status, content_type="application/json")
    if etag:
        response.headers["ETag"] = etag
    return response


def _attendee_emails(text: str) -> list[str]:
    cal = parsed_objects.get(text)
    master = next((e for e in cal.walk("VEVENT") if "RECURRENCE-ID" not in e), None)
    values = master.get("ATTENDEE", []) if master is not None else []
    values = values if isinstance(values, list) else [values]
    return [str(v)[7:] if str(v).lower().startswith("mailto:") else str(v) for v in values]


def _queue(messages: list[OutgoingMessage]) -> bool:
    """Queue one message per recipient (joins the caller's write transaction)."""
    outbox = Outbox(services().store)
    queued = False
    for message in messages:
        for recipient in message.recipients:
            outbox.enqueue(dataclasses.replace(message, recipients=(recipient,)))
            queued = True
    return queued


def _idempotent(write: Callable[[], Response], lock_path: str) -> Response:
    """Run ``write`` once per Idempotency-Key: a replay gets the first answer back, the same
    key with another body is refused (422). The record commits with the write itself."""
    policy = _policy()
    key = request.headers.get("Idempotency-Key")
    store = services().store
    if not key:
        with store.write(lock_path):
            return write()
    if len(key) > 255:
        raise ValidationFailed("Idempotency-Key is at most 255 characters.")
    keys = IdempotencyKeys(store)
    assert policy.token is not None
    print_ = fingerprint(request.method, request.path, request.get_data())
    # The key is per token, not per calendar: its own lock serializes two requests with one
    # key that write to different calendars (on PostgreSQL each calendar has its own lock).
    with store.write(lock_path, keys.lock_path(policy.token.id, key)):
        stored = keys.find(policy.token.id, key)
        if stored is None:
            response = write()
            keys.remember(policy.token.id, key, StoredResponse(
                print_, response.status_code, response.get_data(as_text=True),
                {k: v for k, v in response.headers.items() if k in ("ETag", "Location")}))
            return response
    if stored.fingerprint != print_:
        raise ApiError("This Idempotency-Key was used with another request.",
                       code="IDEMPOTENCY_KEY_REUSED", status=422)
    replay = Response(stored.body, status=stored.status, content_type="application/json")
    replay.headers.update(stored.headers)
    replay.headers["Idempotent-Replayed"] = "true"
    return replay


def _mapping_error(exc: mapping.EventMappingError) -> ValidationFailed:
    return ValidationFailed(exc.message, errors=[{"field": exc.field, "code": "invalid",
                                                  "message": exc.message}])


# -- calendars and reads ----------------------------------------------------------------------

@events_blueprint.get("/calendars", responses={200: CalendarList})
def list_calendars():  # type: ignore[no-untyped-def]
    """List Calendars: every calendar this token may use."""
    policy = _policy()
    if not policy.has_scope(READ):
        raise AccessDenied("This token lacks the calendars:read scope.")
    store = services().store
    data = []
    for record in store.calendars_in_workspace(policy.workspace_id or 0):
        if policy.calendar_denial(record) is not None:
            continue
        fields = fields_from_props(record.props, record.path.rsplit("/", 1)[-1])
        owner = services().accounts.get_user(record.owner)
        data.append({"id": record.id, "externalId": f"/{record.path}/", "name": fields.name,
                     "provider": "CALDAV", "timezone": fields.timezone,
                     "isPrimary": False, "isOperatorOwner": record.owner == policy.user.username,
                     "ownerEmail": owner.email if owner else None,
                     "lastSyncedAt": _iso(dt.datetime.fromtimestamp(record.updated_at,
                                                                    dt.UTC))})
    return {"data": data, "accessInfo": access_info(policy)}


def _window(start: dt.datetime | None, end: dt.datetime | None, policy: AccessPolicy,
            default_days: int = 7) -> tuple[dt.datetime, dt.datetime, bool]:
    """The query window (a bare date is midnight UTC), clamped into the token's timeframe."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = _utc(start) if start else today
    end = _utc(end) if end else start + dt.timedelta(days=default_days)
    if end <= start:
        raise ValidationFailed("'to' must be after 'from'.", errors=[
            {"field": "to", "code": "invalid", "message": "must be after from"}])
    earliest, latest = policy.timeframe()
    clamped = False
    if earliest and start < earliest:
        start, clamped = earliest, True
    if latest and end > latest:
        end, clamped = latest, True
    return start, max(start, end), clamped


def _readable_calendars(policy: AccessPolicy, calendar_id: int | None, need: str
                        ) -> list[CollectionRecord]:
    if calendar_id is not None:
        return [_calendar(calendar_id, need)]
    return [c for c in services().store.calendars_in_workspace(policy.workspace_id or 0)
            if policy.calendar_denial(c) is None and getattr(policy.rights(c), need)]


# What q= searches, by the visible field that shows it: a hidden field must not be testable.
SEARCHED = {"title": "SUMMARY", "description": "DESCRIPTION", "location": "LOCATION"}


def _searchable(policy: AccessPolicy) -> list[str]:
    visible = policy.token.visible_fields if policy.token else SEARCHED
    return [prop for field_name, prop in SEARCHED.items() if field_name in visible]


def require_window(start: dt.datetime, end: dt.datetime, max_days: int) -> None:
    if end - start > dt.timedelta(days=max_days):
        raise WindowTooLarge(f"The window is longer than {max_days} days; ask for a shorter "
                             "one.")


def _listed(occurrence: Occurrence, query: ListQuery, searched: list[str]) -> bool:
    """Whether a list shows the instance: cancelled ones on request, ``q`` in the texts the
    token may see (``searched``)."""
    component = occurrence.source
    if not query.include_cancelled and \
            str(component.get("STATUS", "")).upper() == "CANCELLED":
        return False
    if query.q:
        needle = query.q.lower()
        return any(needle in str(component.get(k, "")).lower()
                   for k in searched)
    return True


@dataclasses.dataclass(frozen=True)
class _Cursor:
    """What a pageToken carries: where the walk stands, how many instances came before, the
    slice length that filled the last page, and which query it belongs to."""

    position: Position
    seen: int
    span: int
    query: str


def _query_print(query: ListQuery, start: dt.datetime, end: dt.datetime,
                 calendar_ids: list[int]) -> str:
    text = json.dumps([_iso(start), _iso(end), calendar_ids, query.q or "",
                       query.include_cancelled])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _page_token(cursor: _Cursor) -> str:
    data = json.dumps([1, cursor.position.start, cursor.position.event_id, cursor.position.key,
                       cursor.seen, cursor.span, cursor.query], separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def _read_page_token(token: str, query_print: str) -> _Cursor:
    def invalid(message: str) -> ValidationFailed:
        return ValidationFailed(message, errors=[
            {"field": "pageToken", "code": "invalid", "message": message}])

    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        version, start, event_id, key, seen, span, printed = data
        counts_ok = all(isinstance(v, int) and 0 <= v < 2**40 for v in (seen, span))
        if version != 1 or not counts_ok or not isinstance(start, int) or \
                not all(isinstance(v, str) for v in (event_id, key, printed)):
            raise ValueError("unexpected values")
        cursor = _Cursor(Position(start, event_id, key), seen, span, printed)
        dt.datetime.fromtimestamp(start, dt.UTC)  # a time the window arithmetic can hold
    except (ValueError, TypeError, OverflowError, OSError, binascii.Error) as exc:
        raise invalid("pageToken is not a token this API issued.") from exc
    if cursor.query != query_print:
        raise invalid("pageToken belongs to another query (window, calendars or filters).")
    return cursor


@events_blueprint.get("/events", responses={200: EventList, **problem_responses(400)})
def list_events(query: ListQuery):  # type: ignore[no-untyped-def]
    """Events overlapping [from, to) in start order, recurring series expanded into instances.
    Page with meta.nextPageToken (or limit and offset); windows are at most
    [limits] max_list_days long."""
    policy = _policy()
    if policy.token and policy.token.access_level == "free_busy_only":
        raise AccessDenied("This token sees free/busy time only.")
    if query.sync_token is not None:
        return _changes_since(policy, query)
    start, end, clamped = _window(query.from_, query.to, policy)
    limits = services().store.limits
    require_window(start, end, limits.max_list_days)
    calendar_ids = [c.id for c in _readable_calendars(policy, query.calendar_id, "read")]
    # Taken before the read: a change made meanwhile is sent again by the next sync.
    sync_token = _calendar(query.calendar_id, "read").sync_token if query.calendar_id else None
    searched = _searchable(policy)
    query_print = _query_print(query, start, end, calendar_ids)
    cursor = _read_page_token(query.page_token, query_print) if query.page_token else None
    if cursor is not None and query.offset:
        raise ValidationFailed("offset cannot be combined with pageToken.", errors=[
            {"field": "offset", "code": "invalid", "message": "use pageToken alone"}])
    if query.offset + query.limit > limits.max_instances_per_request:
        raise ValidationFailed(
            f"offset + limit may be at most {limits.max_instances_per_request}; page on with "
            "nextPageToken.", errors=[{"field": "offset", "code": "too_large",
                                       "message": "offset + limit too large"}])
    page = walk(services().store, calendar_ids, start, end,
                after=cursor.position if cursor else None, skip=query.offset,
                want=query.limit, accept=lambda o: _listed(o, query, searched),
                max_examined=limits.max_instances_per_request,
                span=dt.timedelta(seconds=cursor.span) if cursor else DAY)
    if cursor is None and page.more and len(page.occurrences) < query.limit:
        # Offset paging cannot continue from a short page: only a pageToken can.
        raise TooManyMatches(
            f"More than {limits.max_instances_per_request} instances would have to be "
            "expanded to fill this page; narrow the window or the filters, or page on with "
            "pageToken.")
    seen = (cursor.seen if cursor else 0) + page.skipped + len(page.occurrences)
    next_token = _page_token(_Cursor(page.resume, seen, int(page.span.total_seconds()),
                                     query_print)) if page.more and page.resume else None
    events = [_render(o.record, policy, o.component) for o in page.occurrences]
    return {"events": events, "meta": {
        "count": len(events), "offset": query.offset, "limit": query.limit,
        "hasMore": page.more, "totalCount": seen + (1 if page.more else 0),
        "nextPageToken": next_token, "truncated": clamped,
        "from": _iso(start), "to": _iso(end)}, "nextSyncToken": sync_token,
        "accessInfo": access_info(policy), "currentUserCalendarEmail": policy.user.email}


def _changes_since(policy: AccessPolicy, query: ListQuery) -> dict:
    """Events (whole series, as stored now) changed since the token and the ids deleted
    since, from the change log (O(changes)); within the token's timeframe, like a list."""
    if query.calendar_id is None:
        raise ValidationFailed("A syncToken belongs to one calendar: give its calendarId.",
                               errors=[{"field": "calendarId", "code": "required",
                                        "message": "required with syncToken"}])
    calendar = _calendar(query.calendar_id, "read")
    try:
        token, changed, deleted = services().store.changed_objects(
            calendar.id, query.sync_token or "", max_changes=MAX_SYNC_CHANGES)
    except (ExpiredSyncToken, TooManyChanges) as exc:
        raise ApiError(f"{exc}; list the calendar again for a new syncToken.",
                       code="FULL_SYNC_REQUIRED", status=410) from exc
    except InvalidSyncToken as exc:
        raise ValidationFailed(str(exc), errors=[{"field": "syncToken", "code": "invalid",
                                                  "message": "not a token of this calendar"}]
                               ) from exc
    earliest, latest = policy.timeframe()
    events = []
    for record in changed:
        if record.component != "VEVENT":
            continue
        # the envelope spans every instance of a series (open-ended rules: Radicale's maximum)
        if (earliest and record.end_ts <= earliest.timestamp()) or \
                (latest and record.start_ts >= latest.timestamp()):
            continue
        events.append(_render(record, policy))
    return {"events": events, "deleted": deleted, "nextSyncToken": token,
            "accessInfo": access_info(policy), "currentUserCalendarEmail": policy.user.email}


@events_blueprint.get("/events/<eventId>",
                      responses={200: EventEnvelope, **problem_responses(400)})
def get_event(path: EventPath, query: EventQuery):  # type: ignore[no-untyped-def]
    """One event (a series, a single event, or one instance by its instance id)."""
    policy = _policy()
    record, _, key = _event(path.event_id, "read")
    instance = None
    if key is not None:
        instance = mapping.find_instance(record.text, key,
                                         parsed_objects.get(record.text, record.etag))
        if instance is None:
            raise ResourceNotFound("Event not found.", code="EVENT_NOT_FOUND")
    start, end = mapping.event_window(record.text)
    require_within_timeframe(policy, start, end)
    return _json_response(_envelope(_render(record, policy, instance), policy),
                          etag=record.etag)


@events_blueprint.get("/freebusy", responses={200: FreeBusyResponse, **problem_responses(400)})
def free_busy(query: FreeBusyQuery):  # type: ignore[no-untyped-def]
    """Busy periods per calendar; outside a calendar's schedules counts as busy."""
    policy = _policy()
    start, end, _ = _window(query.from_, query.to, policy)
    require_window(start, end, services().store.limits.max_freebusy_days)
    if query.calendars:
        try:
            ids = [int(v) for v in query.calendars.split(",") if v.strip()]
            if any(not 1 <= i <= MAX_DATABASE_ID for i in ids):
                raise ValueError(f"calendar ids are integers from 1 to {MAX_DATABASE_ID}")
        except ValueError as exc:
            raise ValidationFailed("calendars is a comma separated list of ids.", errors=[
                {"field": "calendars", "code": "invalid", "message": str(exc)}]) from exc
        calendars = [_calendar(i, "freebusy") for i in ids]
    else:
        calendars = _readable_calendars(policy, None, "freebusy")
    out = []
    budget = Budget(services().store.limits.max_instances_per_request)
    for calendar in calendars:
        busy: list[Interval] = [
            (max(o.start, start), min(o.end, end))
            for o in expand_occurrences(services().store, calendar.id, start, end, budget)
            if o.busy]
        schedules = stored_schedules(calendar.props.get(AVAILABILITY_PROP))
        if schedules:
            busy += subtract([(start, end)], open_time(schedules, start, end))
        busy = merge(b for b in busy if b[0] < b[1])
        free = subtract([(start, end)], busy)
        fields = fields_from_props(calendar.props, calendar.path.rsplit("/", 1)[-1])
        out.append({"calendarId": calendar.id, "calendarName": fields.name,
                    "busy": [_period(s, e) for s, e in busy],
                    "free": [_period(s, e) for s, e in free]})
    return {"calendars": out, "accessInfo": access_info(policy)}


def _period(start: dt.datetime, end: dt.datetime) -> dict:
    return {"startUtc": _iso(start), "endUtc": _iso(end),
            "durationMinutes": int((end - start).total_seconds() // 60)}


# -- writes -------------------------------------------------------------------------------------

@events_blueprint.post("/events", responses={201: EventEnvelope, **problem_responses(
    400, 409, 422)})
def create_event(body: CreateEventRequest):  # type: ignore[no-untyped-def]
    """Create Event; invitations are queued when attendees are given."""
    policy = _policy()
    calendar = _calendar(body.calendar_id, "write")
    require_operation(policy, "create_events")
    start, end = _utc(body.from_), _utc(body.to)
    require_within_timeframe(policy, start, end)
    require_open_time(calendar, start, end)
    uid = str(uuid.uuid4())
    try:
        text = mapping.new_event_text(mapping.EventInput(
            calendar_id=calendar.id, summary=body.summary, start=start, end=end,
            description=body.description, location=body.location, all_day=body.is_all_day,
            attendees=body.attendees, recurrence=body.recurrence, event_type=body.event_type,
            time_zone=body.time_zone), uid, policy.user.email, dt.datetime.now(dt.UTC))
        prepared = services().store.prepare(text)
    except mapping.EventMappingError as exc:
        raise _mapping_error(exc) from exc

    def write() -> Response:
        record, _ = services().store.put_object(calendar.id, f"{uid}.ics", prepared,
                                                if_none_match=True)
        queued = False
        others = [a for a in body.attendees if a.lower() != policy.user.email.lower()]
        if body.send_notifications and others:
            queued = _queue([request_message(text, policy.user.email, others)])
        response = _json_response(_envelope(_render(record, policy), policy,
                                            notificationQueued=queued), 201, record.etag)
        response.headers["Location"] = f"/api/access/calendar/events/{record.public_id}"
        return response

    return _idempotent(write, calendar.path)


@events_blueprint.patch("/events/<eventId>",
                        responses={200: EventEnvelope, **problem_responses(400, 409, 412)})
def update_event(path: EventPath, body: UpdateEventRequest):  # type: ignore[no-untyped-def]
    """Update Event: only the named fields change; everything else a client wrote stays."""
    policy = _policy()
    record, calendar, key = _event(path.event_id, "write")
    _refuse_instance(key, "edit")
    given = body.model_fields_set
    for field_name in given:
        alias = UpdateEventRequest.model_fields[field_name].alias or field_name
        operation = FIELD_OPERATIONS.get(alias)
        if operation and (alias not in ("addAttendees", "removeAttendees")
                          or getattr(body, field_name)):
            require_operation(policy, operation)
    check_if_match(record.etag)
    old_start, old_end = mapping.event_window(record.text)
    require_within_timeframe(policy, old_start, old_end)

    def value(name: str) -> Any:
        return getattr(body, name) if name in given else mapping.UNSET

    patch = mapping.EventPatch(
        summary=value("summary"), description=value("description"),
        location=value("location"),
        start=_utc(body.from_) if body.from_ else mapping.UNSET,
        end=_utc(body.to) if body.to else mapping.UNSET,
        all_day=body.is_all_day if body.is_all_day is not None else mapping.UNSET,
        time_zone=value("time_zone"), recurrence=value("recurrence"),
        event_type=value("event_type"), add_attendees=body.add_attendees,
        remove_attendees=body.remove_attendees)
    try:
        result = mapping.patch_event_text(record.text, patch, dt.datetime.now(dt.UTC),
                                          policy.user.email)
        prepared = services().store.prepare(result.text)
        new_start, new_end = mapping.event_window(result.text)
    except mapping.EventMappingError as exc:
        raise _mapping_error(exc) from exc
    if "times" in result.changed:
        require_within_timeframe(policy, new_start, new_end)
        require_open_time(calendar, new_start, new_end)
    store = services().store
    with store.write(calendar.path):
        new_record, _ = store.put_object(calendar.id, record.href, prepared,
                                         if_match=record.etag)
        messages: list[OutgoingMessage] = []
        if body.send_notifications and result.changed:
            everyone = [a for a in _attendee_emails(result.text)
                        if a.lower() != policy.user.email.lower()]
            added = {a.lower() for a in result.added_attendees}
            if result.changed & {"times", "location", "recurrence", "summary"}:
                messages.append(request_message(result.text, policy.user.email, everyone))
            elif added:
                messages.append(request_message(
                    result.text, policy.user.email, [a for a in everyone if a.lower() in added]))
            if result.removed_attendees:
                messages.append(cancel_message(record.text, policy.user.email,
                                               list(result.removed_attendees)))
        queued = _queue(messages)
    return _json_response(_envelope(_render(new_record, policy), policy,
                                    notificationQueued=queued), etag=new_record.etag)


@events_blueprint.delete("/events/<eventId>",
                         responses={200: DeletedEvent, **problem_responses(409, 412)})
def delete_event(path: EventPath, query: DeleteQuery):  # type: ignore[no-untyped-def]
    """Delete Event; attendees get a cancellation unless notifyAttendees=false."""
    policy = _policy()
    record, calendar, key = _event(path.event_id, "write")
    _refuse_instance(key, "delete")
    require_operation(policy, "delete_events")
    check_if_match(record.etag)
    start, end = mapping.event_window(record.text)
    require_within_timeframe(policy, start, end)
    store = services().store
    with store.write(calendar.path):
        store.delete_object(calendar.id, record.href, if_match=record.etag)
        recipients = [a for a in _attendee_emails(record.text)
                      if a.lower() != policy.user.email.lower()]
        queued = query.notify_attendees and _queue(
            [cancel_message(record.text, policy.user.email, recipients)])
    return {"success": True, "message": "Event deleted", "notificationQueued": bool(queued)}


@events_blueprint.post("/events/<eventId>/respond",
                       responses={200: EventEnvelope, **problem_responses(400, 409)})
def respond_to_event(path: EventPath, body: RespondRequest):  # type: ignore[no-untyped-def]
    """Respond to Event: accepted, declined or tentative, with an optional comment."""
    policy = _policy()
    series_id, key = mapping.parse_instance_id(path.event_id)
    record = services().store.get_object_by_public_id(series_id)
    calendar = services().store.get_collection_by_id(record.collection_id) if record else None
    invited = record is not None and policy.user.email.lower() in {
        a.lower() for a in _attendee_emails(record.text)}
    if record is None or calendar is None or record.component != "VEVENT":
        raise ResourceNotFound("Event not found.", code="EVENT_NOT_FOUND")
    if not policy.may_respond(calendar, invited):
        if invited and policy.outside_allow_list(calendar):
            raise TokenDenied(f"This token may not use calendar {calendar.id}.")
        if not (invited and calendar.workspace_id is not None
                and policy.in_workspace(calendar.workspace_id)):
            _event(path.event_id, "read")  # 404 unless it may see the event (403 if not)
        raise AccessDenied("This token may not respond to events (it needs calendars:write "
                           "and full access).")
    _refuse_instance(key, "answer")
    require_operation(policy, "respond_to_event")
    start, end = mapping.event_window(record.text)
    require_within_timeframe(policy, start, end)
    try:
        text = mapping.respond_text(record.text, policy.user.email, body.status, body.comment,
                                    dt.datetime.now(dt.UTC))
    except mapping.OrganizerCannotRespond as exc:
        raise ConflictError("The organizer cannot respond to their own event.",
                            code=exc.code) from exc
    except mapping.NotAnAttendee as exc:
        raise ConflictError("You are not an attendee of this event.", code=exc.code) from exc
    prepared = services().store.prepare(text)
    store = services().store
    with store.write(calendar.path):
        new_record, _ = store.put_object(calendar.id, record.href, prepared,
                                         if_match=record.etag)
        queued = body.send_notification and _queue(
            [reply_message(text, policy.user.email, body.comment)])
    return _json_response(_envelope(_render(new_record, policy), policy,
                                    notificationQueued=bool(queued)), etag=new_record.etag)


