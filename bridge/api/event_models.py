"""Request and response models of the Access Events API (seed 004): declared once, they drive
both validation and the OpenAPI document."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bridge.core.mail_header import check_email
from bridge.core.times import as_utc
from bridge.models import ApiModel, CalendarAccess, DatabaseId, TimeZoneName

MAX_ATTENDEES = 100


def _emails(values: list[str] | None) -> list[str] | None:
    for value in values or ():
        check_email(value)
    return values


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
        if as_utc(self.to) <= as_utc(self.from_) and not (
                self.is_all_day and as_utc(self.to) == as_utc(self.from_)):
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
    event_id: str = Field(alias="eventId", max_length=200, description=(
        "An event's id, or one occurrence of a series: `<eventId>_<original start>` "
        "(`..._20261214T090000Z` in UTC, `..._20261214` for all-day), stable while the series "
        "is unchanged, even after the occurrence is moved."))


class EventQuery(ApiModel):
    time_zone: TimeZoneName | None = Field(None, alias="timeZone",
                                           description="render start and end in this zone")


InstanceRange = Literal["thisInstance", "thisAndFollowing"]
RANGE_DESCRIPTION = (
    "For an instance id (`<eventId>_<originalStart>`): `thisInstance` (the default) changes only "
    "that occurrence (an override; a delete adds an EXDATE); `thisAndFollowing` changes it and "
    "every later one: the series is split there (the old one ends before it, a new series with "
    "a new id starts at it). Ignored for a series id.")


class DeleteQuery(ApiModel):
    notify_attendees: bool = Field(True, alias="notifyAttendees")
    range: InstanceRange = Field("thisInstance", description=RANGE_DESCRIPTION)


class UpdateQuery(ApiModel):
    range: InstanceRange = Field("thisInstance", description=RANGE_DESCRIPTION)


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
    access: CalendarAccess | None = Field(
        description="how the token's user reaches it: owner, admin, or a share's level "
                    "(freebusy, read, read-write); the token's own limits apply on top")


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
