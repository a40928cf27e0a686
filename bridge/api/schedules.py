"""Calendar schedules (seed 000) and bookable slots, stored as RFC 7953 VAVAILABILITY in the
calendar's ``C:calendar-availability`` property (readable over CalDAV)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Literal
from zoneinfo import ZoneInfo

from flask import Response, jsonify
from pydantic import Field, RootModel, field_validator, model_validator

from bridge.api import ONE_CALENDAR, bearer_blueprint
from bridge.auth import calendar_of_request, workspace_of_request
from bridge.core.availability import (  # AVAILABILITY_PROP is kept importable from here
    AVAILABILITY_PROP,
    DAY_NAMES,
    WEEKDAYS,
    Schedule,
    next_schedule_id,
    schedules_text,
    slots,
    stored_schedules,
    with_schedule,
)
from bridge.errors import ResourceNotFound, ValidationFailed
from bridge.etags import check_if_match, if_match
from bridge.mapping.calendars import fields_from_props
from bridge.models import ApiModel, DatabaseId, TimeZoneName, WorkspacePath, problem_responses
from bridge.occurrences import expand_occurrences
from bridge.service.calendars import update_props
from bridge.service.schedules import ScheduleResponse, render_schedule, schedules_of
from bridge.services import services
from bridge.store.store import CollectionRecord, now_ts

schedules_blueprint = bearer_blueprint("schedules", __name__, ONE_CALENDAR, "schedules",
                                       "Availability rules of a calendar")

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _weekday(value: str | int) -> int:
    """Monday..Sunday, MO..SU, or 0..6 with 0 = Sunday (the Nylas style)."""
    if isinstance(value, int):
        if 0 <= value <= 6:
            return (value - 1) % 7
        raise ValueError(f"day number {value} is not 0..6")
    text = value.strip()
    for index, (name, code) in enumerate(zip(DAY_NAMES, WEEKDAYS, strict=True)):
        if text.lower() in (name.lower(), code.lower()):
            return index
    raise ValueError(f"unknown day {value!r}")


class CalendarPath(WorkspacePath):
    calendar_id: DatabaseId


class SchedulePath(CalendarPath):
    schedule_id: DatabaseId


class _ScheduleFields(ApiModel):
    description: str | None = Field(None, max_length=2000)
    type: Literal["available", "unavailable"] | None = None
    timezone: TimeZoneName | None = Field(None, description="IANA zone; default: the calendar's")
    recurrence: Literal["once", "daily", "weekly", "monthly"] | None = None
    days_of_week: list[str | int] | None = Field(
        None, description="Monday..Sunday, MO..SU, or 0..6 with 0 = Sunday")
    day_of_month: int | None = Field(None, ge=-1, le=31)
    start_time: str | None = Field(None, description="HH:MM wall-clock", examples=["09:00"])
    end_time: str | None = Field(None, description="HH:MM wall-clock; 24:00 allowed")
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    exceptions: list[dt.date] | None = None

    @field_validator("start_time", "end_time")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None and not _TIME.match(value):
            raise ValueError("a time is HH:MM (00:00 to 24:00)")
        return value

    @field_validator("days_of_week")
    @classmethod
    def _days(cls, value: list[str | int] | None) -> list[str | int] | None:
        for day in value or ():
            _weekday(day)
        return value


class CreateScheduleRequest(_ScheduleFields):
    name: str = Field(min_length=1, max_length=255)
    start_time: str = Field(description="HH:MM wall-clock", examples=["09:00"])
    end_time: str = Field(description="HH:MM wall-clock; 24:00 allowed", examples=["17:00"])


class UpdateScheduleRequest(_ScheduleFields):
    name: str | None = Field(None, min_length=1, max_length=255)

    @field_validator("name", "type", "timezone", "recurrence", "days_of_week", "start_time",
                     "end_time", "start_date", "exceptions")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Omitted fields stay; null would silently keep them too, so it is refused (null
        # clears only description, dayOfMonth and endDate; [] clears exceptions).
        if value is None:
            raise ValueError("cannot be null; omit the field to keep it")
        return value


class ScheduleList(RootModel[list[ScheduleResponse]]):
    """Seed 000: "List of CalendarScheduleResponse", a JSON array."""


class DeletedSchedule(ApiModel):
    success: bool
    id: int
    message: str


class SlotsQuery(ApiModel):
    from_: dt.datetime = Field(alias="from")
    to: dt.datetime
    duration: int = Field(ge=5, le=1440, description="minutes")
    interval: int | None = Field(None, ge=5, le=1440, description="minutes; default duration")
    time_zone: TimeZoneName | None = Field(None, alias="timeZone")

    @model_validator(mode="after")
    def _window(self) -> SlotsQuery:
        if self.from_.tzinfo is None or self.to.tzinfo is None:
            raise ValueError("from and to need a UTC offset or Z")
        if self.to <= self.from_:
            raise ValueError("to must be after from")
        if self.to - self.from_ > dt.timedelta(days=62):
            raise ValueError("a slots window is at most 62 days")
        return self


class Slot(ApiModel):
    start: str
    end: str


class SlotsResponse(ApiModel):
    time_zone: str
    slots: dict[str, list[Slot]]


def _build(base: Schedule | None, body: _ScheduleFields, record: CollectionRecord,
           schedule_id: int) -> Schedule:
    """The schedule after applying ``body`` over ``base`` (None: a new one), validated."""
    given = body.model_fields_set
    now = now_ts()
    calendar_zone = fields_from_props(record.props, "").timezone or "UTC"
    zone = body.timezone or (base.timezone if base else calendar_zone)
    today = dt.datetime.now(ZoneInfo(zone)).date()
    kind = body.type or (base.kind if base else "available")
    schedule = Schedule(
        id=schedule_id, uid=base.uid if base else f"{uuid.uuid4()}@calbridge",
        name=getattr(body, "name", None) or (base.name if base else ""),
        kind=kind, timezone=zone,
        recurrence=body.recurrence or (base.recurrence if base else "weekly"),
        start_minute=_minutes(body.start_time) if body.start_time else
        (base.start_minute if base else 0),
        end_minute=_minutes(body.end_time) if body.end_time else
        (base.end_minute if base else 0),
        start_date=body.start_date or (base.start_date if base else today),
        end_date=body.end_date if "end_date" in given else (base.end_date if base else None),
        days_of_week=tuple(sorted({_weekday(d) for d in body.days_of_week}))
        if body.days_of_week is not None else (base.days_of_week if base else ()),
        day_of_month=body.day_of_month if "day_of_month" in given else
        (base.day_of_month if base else None),
        exceptions=tuple(sorted(set(body.exceptions))) if body.exceptions is not None
        else (base.exceptions if base else ()),
        description=body.description if "description" in given else
        (base.description if base else None),
        created_at=base.created_at if base else now, updated_at=now,
        priority=9 if kind == "available" else 1)
    _check(schedule)
    return schedule


def _check(schedule: Schedule) -> None:
    errors = []
    if schedule.end_minute <= schedule.start_minute:
        errors.append(("endTime", "endTime must be after startTime"))
    if schedule.recurrence == "weekly" and not schedule.days_of_week:
        errors.append(("daysOfWeek", "a weekly schedule needs daysOfWeek"))
    if schedule.recurrence == "monthly" and schedule.day_of_month in (None, 0):
        errors.append(("dayOfMonth", "a monthly schedule needs dayOfMonth (1..31 or -1)"))
    if schedule.end_date is not None and schedule.end_date < schedule.start_date:
        errors.append(("endDate", "endDate is before startDate"))
    if errors:
        raise ValidationFailed("Invalid schedule: " + "; ".join(m for _, m in errors),
                               errors=[{"field": f, "code": "invalid", "message": m}
                                       for f, m in errors])


def _save(record: CollectionRecord,
          change: Callable[[CollectionRecord, list[Schedule]], tuple[list[Schedule], Schedule]]
          ) -> tuple[CollectionRecord, Schedule]:
    """Apply ``change`` to the schedules as stored inside the calendar's write lock (so two
    writers never lose each other's schedule); returns the calendar and the schedule."""
    done: list[Schedule] = []

    def props_after(current: CollectionRecord) -> dict[str, str]:
        schedules, schedule = change(current, stored_schedules(
            current.props.get(AVAILABILITY_PROP)))
        done.append(schedule)
        props = dict(current.props)
        if schedules:
            props[AVAILABILITY_PROP] = schedules_text(schedules, dt.datetime.now(dt.UTC))
        else:
            props.pop(AVAILABILITY_PROP, None)
        return props

    updated = update_props(services().store, record, props_after, if_match())
    return updated, done[0]


def _schedule(record: CollectionRecord, schedule_id: int,
              schedules: list[Schedule] | None = None) -> Schedule:
    if schedules is None:
        schedules = stored_schedules(record.props.get(AVAILABILITY_PROP))
    for schedule in schedules:
        if schedule.id == schedule_id:
            return schedule
    raise ResourceNotFound("Schedule not found.", code="SCHEDULE_NOT_FOUND")


# A change of one existing schedule: (the calendar, its schedules, that schedule) -> (the
# schedules after, the schedule to answer with).
Change = Callable[[CollectionRecord, list[Schedule], Schedule], tuple[list[Schedule], Schedule]]


def _change_schedule(path: SchedulePath, action: str, change: Change
                     ) -> tuple[CollectionRecord, Schedule]:
    """``change`` applied to the schedule of ``path`` as stored inside the write lock: 412 on a
    stale If-Match, 404 before the lock and again inside it if it is gone meanwhile."""
    workspace = workspace_of_request(path.workspace_uuid)
    record = calendar_of_request(path.calendar_id, action, workspace)
    check_if_match(record.etag)
    _schedule(record, path.schedule_id)

    def edit(current: CollectionRecord, schedules: list[Schedule]
             ) -> tuple[list[Schedule], Schedule]:
        return change(current, schedules, _schedule(current, path.schedule_id, schedules))

    return _save(record, edit)


def _reply(data: dict | list, record: CollectionRecord, status: int = 200) -> Response:
    response = jsonify(data)
    response.status_code = status
    response.headers["ETag"] = record.etag
    return response


@schedules_blueprint.get("/schedules", responses={200: ScheduleList})
def list_schedules(path: CalendarPath):  # type: ignore[no-untyped-def]
    """List all schedules for a calendar."""
    workspace = workspace_of_request(path.workspace_uuid)
    record = calendar_of_request(path.calendar_id, "freebusy", workspace)
    return _reply(schedules_of(record), record)


@schedules_blueprint.post("/schedules",
                          responses={201: ScheduleResponse, **problem_responses(400, 412)})
def create_schedule(path: CalendarPath, body: CreateScheduleRequest):  # type: ignore[no-untyped-def]
    """Create a new schedule for a calendar (the calendar becomes constrained)."""
    workspace = workspace_of_request(path.workspace_uuid)
    record = calendar_of_request(path.calendar_id, "configure", workspace)
    check_if_match(record.etag)

    def add(current: CollectionRecord, schedules: list[Schedule]
            ) -> tuple[list[Schedule], Schedule]:
        schedule = _build(None, body, current, next_schedule_id(schedules))
        return [*schedules, schedule], schedule

    updated, schedule = _save(record, add)
    return _reply(render_schedule(schedule, record.id), updated, 201)


@schedules_blueprint.get("/schedules/<int:schedule_id>", responses={200: ScheduleResponse})
def get_schedule(path: SchedulePath):  # type: ignore[no-untyped-def]
    """Get one schedule."""
    workspace = workspace_of_request(path.workspace_uuid)
    record = calendar_of_request(path.calendar_id, "freebusy", workspace)
    schedule = _schedule(record, path.schedule_id)
    return _reply(render_schedule(schedule, record.id), record)


@schedules_blueprint.put("/schedules/<int:schedule_id>",
                         responses={200: ScheduleResponse, **problem_responses(400, 412)})
def update_schedule(path: SchedulePath, body: UpdateScheduleRequest):  # type: ignore[no-untyped-def]
    """Update an existing schedule: omitted fields stay."""

    def edit(current: CollectionRecord, schedules: list[Schedule], old: Schedule
             ) -> tuple[list[Schedule], Schedule]:
        schedule = _build(old, body, current, old.id)
        return with_schedule(schedules, schedule), schedule

    updated, schedule = _change_schedule(path, "configure", edit)
    return _reply(render_schedule(schedule, updated.id), updated)


@schedules_blueprint.delete("/schedules/<int:schedule_id>",
                            responses={200: DeletedSchedule, **problem_responses(412)})
def delete_schedule(path: SchedulePath):  # type: ignore[no-untyped-def]
    """Delete a schedule (calendars:admin)."""
    updated, removed = _change_schedule(
        path, "delete", lambda _, schedules, old: ([s for s in schedules if s.id != old.id], old))
    return _reply({"success": True, "id": removed.id, "message": "Schedule deleted"}, updated)


@schedules_blueprint.get("/slots", responses={200: SlotsResponse, **problem_responses(400)})
def list_slots(path: CalendarPath, query: SlotsQuery):  # type: ignore[no-untyped-def]
    """Bookable slots: the schedules' available time minus busy events."""
    workspace = workspace_of_request(path.workspace_uuid)
    record = calendar_of_request(path.calendar_id, "freebusy", workspace)
    start, end = query.from_.astimezone(dt.UTC), query.to.astimezone(dt.UTC)
    schedules = stored_schedules(record.props.get(AVAILABILITY_PROP))
    busy = [(o.start, o.end) for o in expand_occurrences(services().store, record.id, start, end)
            if o.busy]
    duration = dt.timedelta(minutes=query.duration)
    step = dt.timedelta(minutes=query.interval or query.duration)
    zone_name = query.time_zone or fields_from_props(record.props, "").timezone or "UTC"
    zone = ZoneInfo(zone_name)
    by_day: dict[str, list[dict]] = {}
    for slot_start, slot_end in slots(schedules, busy, start, end, duration, step):
        local_start, local_end = slot_start.astimezone(zone), slot_end.astimezone(zone)
        by_day.setdefault(local_start.date().isoformat(), []).append(
            {"start": local_start.isoformat(), "end": local_end.isoformat()})
    return {"timeZone": zone_name, "slots": by_day}
