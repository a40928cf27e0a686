"""The read shape of a calendar's schedules, shared by the calendar and schedule views (a
calendar lists its schedules when asked to).

Decisions:
- One model (``ScheduleResponse``) drives both the answer and the OpenAPI document.
- Times are RFC 3339 with a ``Z`` (``bridge.core.times.iso_z``).
"""

from __future__ import annotations

import datetime as dt

from bridge.core.availability import AVAILABILITY_PROP, DAY_NAMES, Schedule, stored_schedules
from bridge.core.times import iso_z
from bridge.models import ApiModel
from bridge.store.store import CollectionRecord


class ScheduleResponse(ApiModel):
    id: int
    calendar_id: int
    uid: str
    name: str
    description: str | None
    type: str
    timezone: str
    recurrence: str
    days_of_week: list[str]
    day_of_month: int | None
    start_time: str
    end_time: str
    start_date: dt.date
    end_date: dt.date | None
    exceptions: list[dt.date]
    priority: int
    rrule: str | None
    created_at: str
    updated_at: str


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def schedules_of(record: CollectionRecord) -> list[dict]:
    return [render_schedule(s, record.id) for s in stored_schedules(
        record.props.get(AVAILABILITY_PROP))]


def render_schedule(schedule: Schedule, calendar_id: int) -> dict:
    return ScheduleResponse(
        id=schedule.id, calendar_id=calendar_id, uid=schedule.uid, name=schedule.name,
        description=schedule.description, type=schedule.kind, timezone=schedule.timezone,
        recurrence=schedule.recurrence,
        days_of_week=[DAY_NAMES[d] for d in schedule.days_of_week],
        day_of_month=schedule.day_of_month, start_time=clock(schedule.start_minute),
        end_time=clock(schedule.end_minute), start_date=schedule.start_date,
        end_date=schedule.end_date, exceptions=list(schedule.exceptions),
        priority=schedule.priority, rrule=schedule.rrule,
        created_at=iso_z(schedule.created_at), updated_at=iso_z(schedule.updated_at),
    ).model_dump(by_alias=True, mode="json")
