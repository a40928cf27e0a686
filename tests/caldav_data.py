"""iCalendar fixtures shared by the CalDAV tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import requests

BERLIN = """BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
BEGIN:STANDARD\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
TZNAME:CET\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
TZNAME:CEST\r
END:DAYLIGHT\r
END:VTIMEZONE\r
"""

HEADER = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge tests//EN\r\n"
FOOTER = "END:VCALENDAR\r\n"


def single_event(uid: str, start: str, end: str, extra: str = "") -> str:
    return (f"{HEADER}BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{uid}\r\n{extra}END:VEVENT\r\n{FOOTER}")


def weekly_with_exdate_and_override(uid: str) -> str:
    """Mondays 09:00 Berlin from 2026-11-02, 10 times; 11-16 removed; 11-23 moved to 11:00."""
    return (
        f"{HEADER}{BERLIN}"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART;TZID=Europe/Berlin:20261102T090000\r\n"
        "DTEND;TZID=Europe/Berlin:20261102T100000\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=10\r\n"
        "EXDATE;TZID=Europe/Berlin:20261116T090000\r\n"
        "SUMMARY:Weekly sync\r\nX-CLIENT-PROP:kept\r\n"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:soon\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\n"
        "END:VEVENT\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        "RECURRENCE-ID;TZID=Europe/Berlin:20261123T090000\r\n"
        "DTSTART;TZID=Europe/Berlin:20261123T110000\r\n"
        "DTEND;TZID=Europe/Berlin:20261123T120000\r\n"
        "SUMMARY:Weekly sync (moved)\r\n"
        f"END:VEVENT\r\n{FOOTER}"
    )


def open_ended_daily(uid: str, start: str = "20250101T070000Z") -> str:
    return (f"{HEADER}BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART:{start}\r\nDURATION:PT30M\r\nRRULE:FREQ=DAILY\r\n"
            f"SUMMARY:{uid}\r\nEND:VEVENT\r\n{FOOTER}")


def yearly_all_day(uid: str) -> str:
    return (f"{HEADER}BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
            "DTSTART;VALUE=DATE:20201205\r\nDTEND;VALUE=DATE:20201206\r\n"
            "RRULE:FREQ=YEARLY\r\nEXDATE;VALUE=DATE:20261205\r\n"
            f"SUMMARY:{uid}\r\nEND:VEVENT\r\n{FOOTER}")


def todo(uid: str, due: str) -> str:
    return (f"{HEADER}BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DUE:{due}\r\nSUMMARY:{uid}\r\nEND:VTODO\r\n{FOOTER}")


def summary_event(uid: str, summary: str) -> str:
    """One one-hour event on 2026-12-01, told apart by its SUMMARY (sync and race tests)."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge tests//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\n"
        f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


_ALL_OBJECTS_QUERY = (
    '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
    'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/>'
    '</D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>')


def all_objects(http: requests.Session, calendar_url: str) -> list[tuple[str, str, str]]:
    """(href, etag, calendar data) of every object of a calendar, in one calendar-query."""
    response = http.request("REPORT", calendar_url, headers={"Depth": "1"},
                            data=_ALL_OBJECTS_QUERY)
    assert response.status_code == 207, response.text
    return [(node.findtext("{DAV:}href") or "", node.findtext(".//{DAV:}getetag") or "",
             node.findtext(".//{urn:ietf:params:xml:ns:caldav}calendar-data") or "")
            for node in ET.fromstring(response.content).iter("{DAV:}response")]
