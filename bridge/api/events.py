"""Access Events API (seed 004): /api/access/calendar/... for token-scoped programs and agents.

Views are thin: parse (pydantic), authorize (the token's AccessPolicy), call the event service
(bridge.service.events) for writes, render. The service parses each new text once, and each
write, its outbox messages and its idempotency record are committed in one short transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

import icalendar
from flask import Response, request

from bridge.api import bearer_blueprint
from bridge.api import event_models as models
from bridge.auth import calendar_of_request, current_policy
from bridge.core.expand import parsed_objects
from bridge.core.limits import TooManyMatches
from bridge.core.times import as_utc, iso_z
from bridge.errors import (
    AccessDenied,
    ApiError,
    ResourceNotFound,
    TokenDenied,
    ValidationFailed,
)
from bridge.etags import check_if_match
from bridge.mapping import events as mapping
from bridge.mapping.calendars import fields_from_props, is_timezone
from bridge.models import MAX_DATABASE_ID, problem_responses
from bridge.occurrences import DAY, Budget, walk
from bridge.service import listing, paging
from bridge.service.events import (
    Finish,
    IdempotencyKey,
    Outcome,
    Written,
    attendee_emails,
    require_within_timeframe,
    stored_window,
)
from bridge.services import services
from bridge.store.access import READ, AccessPolicy
from bridge.store.idempotency import StoredResponse, fingerprint
from bridge.store.store import (
    CollectionRecord,
    ExpiredSyncToken,
    InvalidSyncToken,
    ObjectRecord,
    TooManyChanges,
)

events_blueprint = bearer_blueprint("access_events", __name__, "/api/access/calendar",
                                    "access events", "Token-scoped events API (seed 004)")

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


# -- helpers -----------------------------------------------------------------------------------

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


def _event_json(text: str, *, event_id: str, calendar_id: int, etag: str,
                policy: AccessPolicy, calendar: icalendar.Calendar,
                instance: icalendar.cal.Component | None = None) -> dict:
    """The read shape of an event from its parse, less what the token may not see."""
    data = mapping.event_json(text, event_id=event_id, calendar_id=calendar_id, etag=etag,
                              instance=instance, viewer_email=policy.user.email,
                              calendar=calendar, time_zone=request.args.get("timeZone") or None)
    token = policy.token
    if token is not None:
        for field_name, keys in HIDDEN_KEYS.items():
            if field_name not in token.visible_fields:
                for key in keys:
                    data.pop(key, None)
    return data


def _render(record: ObjectRecord, policy: AccessPolicy,
            instance: icalendar.cal.Component | None = None) -> dict:
    return _event_json(record.text, event_id=record.public_id,
                       calendar_id=record.collection_id, etag=record.etag, policy=policy,
                       calendar=parsed_objects.get(record.text, record.etag), instance=instance)


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


# -- calendars and reads ----------------------------------------------------------------------

@events_blueprint.get("/calendars", responses={200: models.CalendarList})
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
                     "lastSyncedAt": iso_z(record.updated_at),
                     "access": policy.access(record)})
    return {"data": data, "accessInfo": access_info(policy)}


def _readable_calendars(policy: AccessPolicy, calendar_id: int | None, need: str
                        ) -> list[CollectionRecord]:
    if calendar_id is not None:
        return [_calendar(calendar_id, need)]
    return [c for c in services().store.calendars_in_workspace(policy.workspace_id or 0)
            if policy.calendar_denial(c) is None and getattr(policy.rights(c), need)]


@events_blueprint.get("/events", responses={200: models.EventList, **problem_responses(400)})
def list_events(query: models.ListQuery):  # type: ignore[no-untyped-def]
    """Events overlapping [from, to) in start order, recurring series expanded into instances.
    Page with meta.nextPageToken (or limit and offset); windows are at most
    [limits] max_list_days long."""
    policy = _policy()
    if policy.token and policy.token.access_level == "free_busy_only":
        raise AccessDenied("This token sees free/busy time only.")
    if query.sync_token is not None:
        return _changes_since(policy, query)
    start, end, clamped = listing.query_window(query.from_, query.to, policy)
    limits = services().store.limits
    listing.require_window(start, end, limits.max_list_days)
    calendar_ids = [c.id for c in _readable_calendars(policy, query.calendar_id, "read")]
    # Taken before the read: a change made meanwhile is sent again by the next sync.
    sync_token = _calendar(query.calendar_id, "read").sync_token if query.calendar_id else None
    searched = listing.searchable(policy)
    query_print = paging.query_print(start, end, calendar_ids, query.q,
                                      query.include_cancelled)
    cursor = paging.read_page_token(query.page_token, query_print) if query.page_token else None
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
                want=query.limit, accept=functools.partial(
                    listing.listed, include_cancelled=query.include_cancelled, q=query.q,
                    searched=searched),
                max_examined=limits.max_instances_per_request,
                span=dt.timedelta(seconds=cursor.span) if cursor else DAY)
    if cursor is None and page.more and len(page.occurrences) < query.limit:
        # Offset paging cannot continue from a short page: only a pageToken can.
        raise TooManyMatches(
            f"More than {limits.max_instances_per_request} instances would have to be "
            "expanded to fill this page; narrow the window or the filters, or page on with "
            "pageToken.")
    seen = (cursor.seen if cursor else 0) + page.skipped + len(page.occurrences)
    next_token = paging.page_token(paging.Cursor(page.resume, seen, int(page.span.total_seconds()),
                                     query_print)) if page.more and page.resume else None
    events = [_render(o.record, policy, o.component) for o in page.occurrences]
    return {"events": events, "meta": {
        "count": len(events), "offset": query.offset, "limit": query.limit,
        "hasMore": page.more, "totalCount": seen + (1 if page.more else 0),
        "nextPageToken": next_token, "truncated": clamped,
        "from": iso_z(start), "to": iso_z(end)}, "nextSyncToken": sync_token,
        "accessInfo": access_info(policy), "currentUserCalendarEmail": policy.user.email}


def _changes_since(policy: AccessPolicy, query: models.ListQuery) -> dict:
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
                      responses={200: models.EventEnvelope, **problem_responses(400)})
def get_event(path: models.EventPath, query: models.EventQuery):  # type: ignore[no-untyped-def]
    """One event (a series, a single event, or one instance by its instance id)."""
    policy = _policy()
    record, _, key = _event(path.event_id, "read")
    instance = None
    if key is not None:
        instance = mapping.find_instance(record.text, key,
                                         parsed_objects.get(record.text, record.etag))
        if instance is None:
            raise ResourceNotFound("Event not found.", code="EVENT_NOT_FOUND")
    require_within_timeframe(policy, *stored_window(record))
    return _json_response(_envelope(_render(record, policy, instance), policy),
                          etag=record.etag)


@events_blueprint.get("/freebusy",
                      responses={200: models.FreeBusyResponse, **problem_responses(400)})
def free_busy(query: models.FreeBusyQuery):  # type: ignore[no-untyped-def]
    """Busy periods per calendar; outside a calendar's schedules counts as busy."""
    policy = _policy()
    start, end, _ = listing.query_window(query.from_, query.to, policy)
    listing.require_window(start, end, services().store.limits.max_freebusy_days)
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
        busy, free = listing.busy_and_free(services().store, calendar, start, end, budget)
        fields = fields_from_props(calendar.props, calendar.path.rsplit("/", 1)[-1])
        out.append({"calendarId": calendar.id, "calendarName": fields.name,
                    "busy": [_period(s, e) for s, e in busy],
                    "free": [_period(s, e) for s, e in free]})
    return {"calendars": out, "accessInfo": access_info(policy)}


def _period(start: dt.datetime, end: dt.datetime) -> dict:
    return {"startUtc": iso_z(start), "endUtc": iso_z(end),
            "durationMinutes": int((end - start).total_seconds() // 60)}


# -- writes (bridge.service.events) -------------------------------------------------------------

def _written(written: Written, policy: AccessPolicy,
             key: dt.date | dt.datetime | None = None) -> Response:
    """The answer to an update or a response, rendered after commit from the write's parse:
    the series, or (``key``) the instance written."""
    record, outcome = written.record, written.outcome
    instance = mapping.find_instance(outcome.text, key, outcome.parsed) if key else None
    event = _event_json(outcome.text, event_id=record.public_id, calendar_id=record.collection_id,
                        etag=record.etag, policy=policy, calendar=outcome.parsed,
                        instance=instance)
    return _json_response(_envelope(event, policy, notificationQueued=outcome.queued),
                          etag=record.etag)


def _idempotency_key(policy: AccessPolicy) -> IdempotencyKey | None:
    key = request.headers.get("Idempotency-Key")
    if not key:
        return None
    assert policy.token is not None  # the REST door takes tokens only (_policy)
    return IdempotencyKey(policy.token.id, key,
                          fingerprint(request.method, request.path, request.get_data()))


@events_blueprint.post("/events", responses={201: models.EventEnvelope, **problem_responses(
    400, 409, 422)})
def create_event(body: models.CreateEventRequest):  # type: ignore[no-untyped-def]
    """Create Event; invitations are queued when attendees are given."""
    policy = _policy()
    calendar = _calendar(body.calendar_id, "write")
    require_operation(policy, "create_events")
    data = mapping.EventInput(
        calendar_id=calendar.id, summary=body.summary, start=as_utc(body.from_),
        end=as_utc(body.to), description=body.description, location=body.location,
        all_day=body.is_all_day, attendees=body.attendees, recurrence=body.recurrence,
        event_type=body.event_type, time_zone=body.time_zone)

    def draft(outcome: Outcome) -> Finish:
        # Rendered before the lock from the one parse; the store names the event inside it.
        event = _event_json(outcome.text, event_id="", calendar_id=outcome.calendar_id,
                            etag=outcome.etag, policy=policy, calendar=outcome.parsed)
        envelope = _envelope(event, policy, notificationQueued=outcome.queued)

        def finish(record: ObjectRecord) -> StoredResponse:
            event["id"] = record.public_id
            return StoredResponse("", 201, json.dumps(envelope), {
                "ETag": record.etag,
                "Location": f"/api/access/calendar/events/{record.public_id}"})
        return finish

    reply = services().events.create(calendar, policy, data, notify=body.send_notifications,
                             draft=draft, key=_idempotency_key(policy))
    response = Response(reply.response.body, status=reply.response.status,
                        content_type="application/json")
    response.headers.update(reply.response.headers)
    if reply.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _patch_of(body: models.UpdateEventRequest) -> mapping.EventPatch:
    given = body.model_fields_set

    def value(name: str) -> Any:
        return getattr(body, name) if name in given else mapping.UNSET

    return mapping.EventPatch(
        summary=value("summary"), description=value("description"),
        location=value("location"),
        start=as_utc(body.from_) if body.from_ else mapping.UNSET,
        end=as_utc(body.to) if body.to else mapping.UNSET,
        all_day=body.is_all_day if body.is_all_day is not None else mapping.UNSET,
        time_zone=value("time_zone"), recurrence=value("recurrence"),
        event_type=value("event_type"), add_attendees=body.add_attendees,
        remove_attendees=body.remove_attendees)


@events_blueprint.patch("/events/<eventId>",
                        responses={200: models.EventEnvelope, **problem_responses(400, 409, 412)})
def update_event(path: models.EventPath, query: models.UpdateQuery,  # type: ignore[no-untyped-def]
                 body: models.UpdateEventRequest):
    """Update Event: only the named fields change; everything else a client wrote stays. On an
    instance id, that occurrence only, or (range=thisAndFollowing) it and every later one."""
    policy = _policy()
    record, calendar, key = _event(path.event_id, "write")
    for field_name in body.model_fields_set:
        alias = models.UpdateEventRequest.model_fields[field_name].alias or field_name
        operation = FIELD_OPERATIONS.get(alias)
        if operation and (alias not in ("addAttendees", "removeAttendees")
                          or getattr(body, field_name)):
            require_operation(policy, operation)
    check_if_match(record.etag)
    patch, notify = _patch_of(body), body.send_notifications
    instances = services().instances
    if key is None:
        written = services().events.update(record, calendar, policy, patch, notify=notify)
    elif query.range == "thisAndFollowing":
        written = instances.update_following(record, calendar, policy, key, patch, notify=notify)
    else:
        return _written(instances.update(record, calendar, policy, key, patch, notify=notify),
                        policy, key)
    return _written(written, policy)


@events_blueprint.delete("/events/<eventId>",
                         responses={200: models.DeletedEvent, **problem_responses(409, 412)})
def delete_event(path: models.EventPath, query: models.DeleteQuery):  # type: ignore[no-untyped-def]
    """Delete Event; attendees get a cancellation unless notifyAttendees=false. On an instance
    id, that occurrence only (an EXDATE), or (range=thisAndFollowing) it and every later one."""
    policy = _policy()
    record, calendar, key = _event(path.event_id, "write")
    require_operation(policy, "delete_events")
    check_if_match(record.etag)
    notify, instances = query.notify_attendees, services().instances
    if key is None:
        queued = services().events.delete(record, calendar, policy, notify=notify)
    elif query.range == "thisAndFollowing":
        queued = instances.delete_following(record, calendar, policy, key, notify=notify)
    else:
        queued = instances.delete(record, calendar, policy, key, notify=notify)
    return {"success": True, "message": "Event deleted", "notificationQueued": queued}


@events_blueprint.post("/events/<eventId>/respond",
                       responses={200: models.EventEnvelope, **problem_responses(400, 409)})
def respond_to_event(path: models.EventPath, body: models.RespondRequest):  # type: ignore[no-untyped-def]
    """Respond to Event: accepted, declined or tentative, with an optional comment."""
    policy = _policy()
    series_id, key = mapping.parse_instance_id(path.event_id)
    record = services().store.get_object_by_public_id(series_id)
    calendar = services().store.get_collection_by_id(record.collection_id) if record else None
    invited = record is not None and policy.user.email.lower() in {
        a.lower() for a in attendee_emails(parsed_objects.get(record.text, record.etag))}
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
    require_operation(policy, "respond_to_event")
    if key is None:
        written = services().events.respond(record, calendar, policy, body.status, body.comment,
                                            notify=body.send_notification)
    else:
        return _written(services().instances.respond(
            record, calendar, policy, key, body.status, body.comment,
            notify=body.send_notification), policy, key)
    return _written(written, policy)
