"""The API's read shape of a stored event, and the ids of single instances of a series.

Decisions:
* An instance id is ``<series id>_<original start>``, the start as YYYYMMDDTHHMMSSZ (UTC) or
  YYYYMMDD (all-day), so it survives any edit of the series that keeps the instance.
* Start and end render in the event's own zone unless the reader asks for another; floating
  stored times are read as UTC.
* ``recurrence`` lists the master's RRULE/RDATE/EXDATE/EXRULE lines as stored (unfolded).
* ``createdAt`` and ``updatedAt`` default to CREATED and LAST-MODIFIED, else DTSTAMP.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

import icalendar

from bridge.core.codec import Document, unescape_text, unfold
from bridge.core.itip import RESPONSE_COMMENT
from bridge.core.limits import Limits
from bridge.core.recurrence import instances, series_of
from bridge.core.times import as_utc, ical_utc, iso_z
from bridge.mapping.event_errors import EventMappingError
from bridge.mapping.event_lines import (
    ONE_DAY,
    address,
    component_times,
    date_of,
    master_block,
    parsed_master,
    plain_email,
)
from bridge.mapping.event_times import is_utc_name, zone_named
from bridge.mapping.event_values import (
    EVENT_TYPE,
    RECURRENCE_PROPERTIES,
)

_INSTANCE_ID = re.compile(r"^(?P<series>.+)_(?P<key>\d{8}(?:T\d{6}Z)?)$")
_JOIN_URLS = ("CONFERENCE", "X-GOOGLE-CONFERENCE", "X-MICROSOFT-SKYPETEAMSMEETINGURL")
_VISIBILITY = {"PUBLIC": "public", "PRIVATE": "private", "CONFIDENTIAL": "confidential"}


def instance_key(recurrence_id: dt.date | dt.datetime) -> str:
    """An instance's original start as YYYYMMDDTHHMMSSZ (UTC) or YYYYMMDD (all-day)."""
    if isinstance(recurrence_id, dt.datetime):
        return ical_utc(recurrence_id)
    return recurrence_id.strftime("%Y%m%d")


def instance_id(series_id: str, recurrence_id: dt.date | dt.datetime) -> str:
    """The public id of one instance of a series: ``<series id>_<instance key>``."""
    return f"{series_id}_{instance_key(recurrence_id)}"


def parse_instance_id(event_id: str) -> tuple[str, dt.date | dt.datetime | None]:
    """(series id, original start) of an instance id; (event_id, None) for any other id."""
    match = _INSTANCE_ID.match(event_id)
    if not match:
        return event_id, None
    key = match.group("key")
    try:
        if len(key) == 8:
            return match.group("series"), dt.datetime.strptime(key, "%Y%m%d").date()
        when = dt.datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return event_id, None
    return match.group("series"), when


def find_instance(text: str, key: dt.date | dt.datetime,
                  calendar: icalendar.Calendar | None = None) -> icalendar.cal.Component | None:
    """The expanded instance of the series in ``text`` whose original start is ``key`` (as from
    ``parse_instance_id``), overrides applied; None when the series has no such instance."""
    calendar = calendar or icalendar.Calendar.from_ical(text)
    wanted = instance_key(key)
    windows: list[tuple[dt.date | dt.datetime, dt.date | dt.datetime]] = []
    for event in calendar.walk("VEVENT"):
        recurrence_id = event.get("RECURRENCE-ID")
        if recurrence_id is not None and instance_key(date_of(recurrence_id)) == wanted:
            start, end = component_times(event)
            windows.append((as_utc(start), max(as_utc(end), as_utc(start)
                                               + dt.timedelta(seconds=1))))
    if isinstance(key, dt.datetime):
        windows.append((as_utc(key), as_utc(key) + dt.timedelta(seconds=1)))
    else:
        windows.append((key, key + ONE_DAY))
    series = series_of(calendar)  # bounded: rules re-anchored at the (short) windows
    for start, end in windows:
        for found in instances(series, start, end, Limits.max_instances):
            instance = found.component()
            recurrence_id = instance.get("RECURRENCE-ID")
            if recurrence_id is not None and instance_key(date_of(recurrence_id)) == wanted:
                return instance
    return None


def event_window(text: str) -> tuple[dt.datetime, dt.datetime]:
    """The master's start and end as UTC instants (all-day dates from midnight UTC)."""
    _, component = parsed_master(text)
    start, end = component_times(component)
    return as_utc(start), as_utc(end)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _zone_name(when: dt.datetime, tzid: str | None) -> str:
    if tzid:
        return tzid
    key = getattr(when.tzinfo, "key", None)
    if key:
        return str(key)
    return "UTC" if when.utcoffset() == dt.timedelta(0) else str(when.tzinfo)


def _time_json(prop: Any, render_zone: zoneinfo.ZoneInfo | None,
               fallback_tzid: str | None = None) -> dict[str, str]:
    """{"dateTime", "timeZone"} or {"date"} of a date/time property or a bare value."""
    value = date_of(prop)
    if not isinstance(value, dt.datetime):
        return {"date": value.isoformat()}
    tzid = getattr(prop, "params", {}).get("TZID") or fallback_tzid
    if value.tzinfo is None:
        value, tzid = value.replace(tzinfo=dt.UTC), None
    if render_zone is not None:
        value, tzid = value.astimezone(render_zone), render_zone.key
    return {"dateTime": value.replace(microsecond=0).isoformat(),
            "timeZone": _zone_name(value, str(tzid) if tzid else None)}


def _response(partstat: Any) -> str:
    return str(partstat or "NEEDS-ACTION").lower().replace("-", "_")


def _attendee_json(attendee: Any, organizer: str | None, viewer: str | None) -> dict[str, Any]:
    params = getattr(attendee, "params", {})
    email = address(attendee)
    return {"email": plain_email(attendee),
            "name": str(params["CN"]) if params.get("CN") else None,
            "response": _response(params.get("PARTSTAT")),
            "optional": str(params.get("ROLE", "")).upper() in ("OPT-PARTICIPANT",
                                                                 "NON-PARTICIPANT"),
            "comment": str(params[RESPONSE_COMMENT]) if params.get(RESPONSE_COMMENT) else None,
            "isOrganizer": organizer is not None and email == organizer,
            "isSelf": viewer is not None and email == viewer}


def _text_or_none(component: icalendar.cal.Component, name: str) -> str | None:
    value = component.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or str(value) == "":
        return None
    if not isinstance(value, icalendar.vText):
        return unescape_text(str(value))  # an X- property icalendar keeps as written
    return str(value)


def _stamp(component: icalendar.cal.Component, *names: str) -> str | None:
    for name in names:
        if name in component and hasattr(component[name], "dt"):
            return iso_z(as_utc(date_of(component[name])))
    return None


def _render_zone(time_zone: str | None) -> zoneinfo.ZoneInfo | None:
    if not time_zone:
        return None
    if is_utc_name(time_zone):
        return zoneinfo.ZoneInfo("UTC")
    return zone_named(time_zone, "timeZone")


@dataclass(frozen=True)
class _Source:
    """The component a read renders (the master, one override or one expanded instance)."""

    text: str
    component: icalendar.cal.Component
    master: icalendar.cal.Component | None
    recurrence_id: Any  # the instance's RECURRENCE-ID property, None for the series
    recurring: bool

    @classmethod
    def of(cls, text: str, calendar: icalendar.Calendar,
           instance: icalendar.cal.Component | None) -> _Source:
        events = calendar.walk("VEVENT")
        master = next((event for event in events if "RECURRENCE-ID" not in event), None)
        source = instance if instance is not None else master if master is not None \
            else events[0]
        series_recurring = master is not None and any(name in master
                                                      for name in ("RRULE", "RDATE"))
        recurring = series_recurring or any("RECURRENCE-ID" in event for event in events)
        recurrence_id = source.get("RECURRENCE-ID") if instance is not None else None
        return cls(text, source, master, recurrence_id if recurring else None, recurring)

    def recurrence(self) -> list[str]:
        if self.recurrence_id is not None:
            return []
        try:
            return [unfold(item.raw) for item in master_block(Document.parse(self.text)).items
                    if item.name in RECURRENCE_PROPERTIES]
        except EventMappingError:
            return []


def _times_json(source: icalendar.cal.Component, render_zone: zoneinfo.ZoneInfo | None
                ) -> dict[str, Any]:
    start, end = component_times(source)
    start_prop = source["DTSTART"]
    start_tzid = start_prop.params.get("TZID")
    end_prop = source["DTEND"] if "DTEND" in source else end
    start_json = _time_json(start_prop, render_zone)
    end_json = _time_json(end_prop, render_zone, str(start_tzid) if start_tzid else None)
    all_day = not isinstance(start, dt.datetime)
    start_utc, end_utc = as_utc(start), as_utc(end)
    return {"start": start_json, "end": end_json,
            "startUtc": iso_z(start_utc), "endUtc": iso_z(end_utc),
            "startLocal": start_json.get("dateTime", start.isoformat()),
            "endLocal": end_json.get("dateTime", end.isoformat()),
            "durationMinutes": int((end_utc - start_utc).total_seconds() // 60),
            "allDay": all_day, "isAllDay": all_day}


def _people_json(source: _Source, viewer_email: str | None) -> dict[str, Any]:
    component, master = source.component, source.master
    organizer_value = component.get("ORGANIZER") or (master.get("ORGANIZER") if master else None)
    organizer = address(organizer_value) if organizer_value is not None else None
    viewer = address(viewer_email) if viewer_email else None
    attendees = [_attendee_json(attendee, organizer, viewer)
                 for attendee in _as_list(component.get("ATTENDEE"))]
    organizer_params = getattr(organizer_value, "params", {})
    return {"organizer": plain_email(organizer_value) if organizer_value is not None else None,
            "organizerName": str(organizer_params["CN"]) if organizer_params.get("CN") else None,
            "attendees": attendees,
            "responseStatus": next((a["response"] for a in attendees if a["isSelf"]), None)}


def _text_json(component: icalendar.cal.Component) -> dict[str, Any]:
    summary = _text_or_none(component, "SUMMARY") or ""
    return {"iCalUID": _text_or_none(component, "UID"), "title": summary, "summary": summary,
            "description": _text_or_none(component, "DESCRIPTION"),
            "location": _text_or_none(component, "LOCATION")}


def _state_json(component: icalendar.cal.Component) -> dict[str, Any]:
    return {"status": str(component.get("STATUS", "CONFIRMED")).lower(),
            "transparency": str(component.get("TRANSP", "OPAQUE")).lower(),
            "visibility": _VISIBILITY.get(str(component.get("CLASS", "")).upper(), "default")}


def _extras_json(component: icalendar.cal.Component) -> dict[str, Any]:
    return {
        "eventType": _text_or_none(component, EVENT_TYPE),
        "joinUrl": next((str(component[name]) for name in _JOIN_URLS
                         if name in component and not isinstance(component[name], list)), None),
        "labels": [str(category) for value in _as_list(component.get("CATEGORIES"))
                   for category in getattr(value, "cats", [value])],
        "sequence": int(component.get("SEQUENCE", 0)),
    }


def event_json(text: str, *, event_id: str, calendar_id: int, etag: str,
               instance: icalendar.cal.Component | None = None,
               viewer_email: str | None = None, time_zone: str | None = None,
               created: dt.datetime | None = None, updated: dt.datetime | None = None,
               calendar: icalendar.Calendar | None = None) -> dict[str, Any]:
    """The API's read shape of the stored object (the series or single event), or of one
    expanded ``instance`` of it (from recurring_ical_events or ``find_instance``).

    ``time_zone`` renders start/end in that zone instead of the event's own; ``created`` and
    ``updated`` default to CREATED and LAST-MODIFIED (else DTSTAMP); ``calendar`` is the parsed
    text when the caller already has it.
    """
    source = _Source.of(text, calendar or icalendar.Calendar.from_ical(text), instance)
    render_zone = _render_zone(time_zone)
    component, recurrence_id = source.component, source.recurrence_id
    is_instance = recurrence_id is not None
    return {
        "id": instance_id(event_id, date_of(recurrence_id)) if is_instance else event_id,
        "calendarId": calendar_id,
        **_text_json(component),
        **_times_json(component, render_zone),
        **_state_json(component),
        **_people_json(source, viewer_email),
        "recurrence": source.recurrence(),
        "isRecurringEvent": source.recurring,
        "recurringEventId": event_id if is_instance else None,
        "originalStartTime": _time_json(recurrence_id, render_zone) if is_instance else None,
        **_extras_json(component),
        "etag": etag,
        "createdAt": iso_z(created) if created else _stamp(component, "CREATED", "DTSTAMP"),
        "updatedAt": iso_z(updated) if updated else _stamp(component, "LAST-MODIFIED",
                                                           "DTSTAMP"),
    }
