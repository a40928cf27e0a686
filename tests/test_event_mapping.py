"""bridge.mapping.events: JSON <-> iCalendar event text, without any server."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import icalendar
import pytest
import recurring_ical_events

from bridge.mapping.events import (
    UNSET,
    EventInput,
    EventMappingError,
    EventPatch,
    NotAnAttendee,
    OrganizerCannotRespond,
    check_recurrence,
    event_json,
    event_window,
    find_instance,
    instance_id,
    new_event_text,
    parse_instance_id,
    patch_event_text,
    respond_text,
)

NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 1, 6, 8, 30, tzinfo=dt.UTC)
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def event_input(**overrides: object) -> EventInput:
    values: dict[str, object] = {
        "calendar_id": 123, "summary": "Project Kickoff",
        "description": "Initial planning meeting for Q2 project", "location": "Room 101",
        "start": utc(2026, 2, 10, 9), "end": utc(2026, 2, 10, 10),
        "attendees": ["user1@example.com", "user2@example.com"],
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"]}
    values.update(overrides)
    return EventInput(**values)  # type: ignore[arg-type]


def master_of(text: str) -> icalendar.Event:
    return next(e for e in icalendar.Calendar.from_ical(text).walk("VEVENT")
                if "RECURRENCE-ID" not in e)


def expand(text: str, start: dt.datetime, end: dt.datetime) -> list[icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(text)
    return sorted(recurring_ical_events.of(calendar).between(start, end),
                  key=lambda e: e["DTSTART"].dt)


def fold(line: str, width: int = 75) -> str:
    """Folds like a client does; ``width`` lets a test fold at unusual places."""
    parts = [line[:width]] + [line[i:i + width - 1] for i in range(width, len(line), width - 1)]
    return "\r\n ".join(parts) + "\r\n"


def lines_of(text: str) -> list[str]:
    """Content lines, unfolded."""
    return re.sub(r"\r?\n[ \t]", "", text).splitlines()


# A calendar object as Apple Calendar writes it: a VTIMEZONE, a weekly master with an alarm,
# X-APPLE properties, an unknown property, folded long lines, and one overridden instance.
CLIENT_TEXT = "".join([
    "BEGIN:VCALENDAR\r\n", "VERSION:2.0\r\n", "PRODID:-//Apple Inc.//macOS 14.4//EN\r\n",
    "CALSCALE:GREGORIAN\r\n", "X-WR-CALNAME:Work\r\n",
    "BEGIN:VTIMEZONE\r\n", "TZID:America/New_York\r\n",
    "BEGIN:DAYLIGHT\r\n", "TZOFFSETFROM:-0500\r\n", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n",
    "DTSTART:20070311T020000\r\n", "TZNAME:EDT\r\n", "TZOFFSETTO:-0400\r\n", "END:DAYLIGHT\r\n",
    "BEGIN:STANDARD\r\n", "TZOFFSETFROM:-0400\r\n", "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\n",
    "DTSTART:20071104T020000\r\n", "TZNAME:EST\r\n", "TZOFFSETTO:-0500\r\n", "END:STANDARD\r\n",
    "END:VTIMEZONE\r\n",
    "BEGIN:VEVENT\r\n", "CREATED:20260101T100000Z\r\n",
    "UID:5F1A2B3C-0000-4000-8000-00000000C0DE\r\n",
    "DTEND;TZID=America/New_York:20270301T100000\r\n", "TRANSP:OPAQUE\r\n",
    "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC\r\n", "SUMMARY:Team sync\r\n",
    "LAST-MODIFIED:20260101T100000Z\r\n", "DTSTAMP:20260101T100000Z\r\n",
    "DTSTART;TZID=America/New_York:20270301T090000\r\n", "SEQUENCE:3\r\n",
    "RRULE:FREQ=WEEKLY;COUNT=6\r\n",
    "EXDATE;TZID=America/New_York:20270322T090000\r\n",
    fold('X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS="1 Infinite Loop, Cupertino, '
         'CA 95014, United States";X-APPLE-RADIUS=70.58;X-TITLE=Apple Park:geo:37.331686'
         ',-122.030656'),
    "LOCATION:Apple Park\\n1 Infinite Loop\\, Cupertino\r\n",
    "ORGANIZER;CN=Olga Organizer;EMAIL=olga@example.com:mailto:olga@example.com\r\n",
    fold("ATTENDEE;CN=Ann Attendee;CUTYPE=INDIVIDUAL;EMAIL=ann@example.com;PARTSTAT=NEEDS-AC"
         "TION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:ann@example.com"),
    "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;ROLE=OPT-PARTICIPANT:mailto:Bob@Example.com\r\n",
    "X-UNKNOWN-THING;FOO=bar:some value\r\n",
    "FUTURE-PROPERTY:an unknown IANA property\r\n",
    fold("DESCRIPTION:" + "A long agenda that a client folded at an unusual place. " * 3, 40),
    "BEGIN:VALARM\r\n", "X-WR-ALARMUID:0A1B2C3D-ALARM\r\n", "UID:0A1B2C3D-ALARM\r\n",
    "TRIGGER:-PT15M\r\n", "ATTACH;VALUE=URI:Chord\r\n", "ACTION:AUDIO\r\n",
    "X-APPLE-DEFAULT-ALARM:TRUE\r\n", "END:VALARM\r\n",
    "END:VEVENT\r\n",
    "BEGIN:VEVENT\r\n", "CREATED:20260101T100000Z\r\n",
    "UID:5F1A2B3C-0000-4000-8000-00000000C0DE\r\n",
    "DTEND;TZID=America/New_York:20270315T120000\r\n", "TRANSP:OPAQUE\r\n",
    "SUMMARY:Team sync (moved)\r\n", "DTSTART;TZID=America/New_York:20270315T110000\r\n",
    "DTSTAMP:20260102T100000Z\r\n", "SEQUENCE:3\r\n",
    "RECURRENCE-ID;TZID=America/New_York:20270315T090000\r\n",
    "ORGANIZER;CN=Olga Organizer:mailto:olga@example.com\r\n",
    "ATTENDEE;CN=Ann Attendee;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:ann@example.com\r\n",
    "X-APPLE-OVERRIDE-MARK:1\r\n",
    "END:VEVENT\r\n",
    "END:VCALENDAR\r\n",
])


# -- create -------------------------------------------------------------------------------------


def test_new_event_has_organizer_attendees_and_rrule() -> None:
    text = new_event_text(event_input(), "uid-1", "organizer@example.com", NOW)

    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert "PRODID:-//calbridge//calbridge//EN\r\n" in text
    event = master_of(text)
    assert str(event["UID"]) == "uid-1"
    assert str(event["SUMMARY"]) == "Project Kickoff"
    assert str(event["DESCRIPTION"]) == "Initial planning meeting for Q2 project"
    assert str(event["LOCATION"]) == "Room 101"
    assert event["DTSTART"].dt == utc(2026, 2, 10, 9)
    assert event["DTEND"].dt == utc(2026, 2, 10, 10)
    for name in ("DTSTAMP", "CREATED", "LAST-MODIFIED"):
        assert event[name].dt == NOW
    assert event["SEQUENCE"] == 0
    assert str(event["ORGANIZER"]) == "mailto:organizer@example.com"
    attendees = [a for a in event["ATTENDEE"]]
    assert [str(a) for a in attendees] == ["mailto:user1@example.com", "mailto:user2@example.com"]
    for attendee in attendees:
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
        assert attendee.params["RSVP"] == "TRUE"
        assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert "RRULE:FREQ=WEEKLY;COUNT=4" in lines_of(text)
    assert str(event["STATUS"]) == "CONFIRMED" and str(event["TRANSP"]) == "OPAQUE"
    instances = expand(text, utc(2026, 1, 1), utc(2026, 12, 31))
    assert [i["DTSTART"].dt.date() for i in instances] == [
        dt.date(2026, 2, 10), dt.date(2026, 2, 17), dt.date(2026, 2, 24), dt.date(2026, 3, 3)]


def test_new_event_without_attendees_has_no_organizer_and_no_empty_properties() -> None:
    text = new_event_text(event_input(attendees=[], description=None, location=None,
                                      recurrence=[]), "uid-2", "organizer@example.com", NOW)
    event = master_of(text)
    for name in ("ORGANIZER", "ATTENDEE", "DESCRIPTION", "LOCATION", "RRULE", EVENT_TYPE_NAME):
        assert name not in event


EVENT_TYPE_NAME = "X-CALBRIDGE-EVENT-TYPE"


def test_new_event_keeps_the_event_type_and_dedupes_attendees_case_insensitively() -> None:
    text = new_event_text(event_input(event_type="consultation",
                                      attendees=["Ann@Example.com", "ann@example.com",
                                                 "mailto:bob@example.com"]),
                          "uid-3", "organizer@example.com", NOW)
    event = master_of(text)
    assert str(event[EVENT_TYPE_NAME]) == "consultation"
    assert [str(a) for a in event["ATTENDEE"]] == ["mailto:Ann@Example.com",
                                                  "mailto:bob@example.com"]


def test_weekly_meeting_with_time_zone_stays_at_nine_local_across_dst() -> None:
    # 2027-03-01 09:00 EST = 14:00Z; US DST starts 2027-03-14
    data = event_input(start=utc(2027, 3, 1, 14), end=utc(2027, 3, 1, 15),
                       recurrence=["RRULE:FREQ=WEEKLY;COUNT=6"], time_zone="America/New_York")
    text = new_event_text(data, "uid-dst", "organizer@example.com", NOW)

    assert "DTSTART;TZID=America/New_York:20270301T090000" in lines_of(text)
    assert "DTEND;TZID=America/New_York:20270301T100000" in lines_of(text)
    zones = icalendar.Calendar.from_ical(text).walk("VTIMEZONE")
    assert [str(zone["TZID"]) for zone in zones] == ["America/New_York"]
    instances = expand(text, utc(2027, 2, 1), utc(2027, 5, 1))
    assert len(instances) == 6
    local_starts = [i["DTSTART"].dt.astimezone(NEW_YORK) for i in instances]
    assert [start.time() for start in local_starts] == [dt.time(9)] * 6
    assert [i["DTSTART"].dt.astimezone(dt.UTC).hour for i in instances] == [14, 14, 13, 13, 13,
                                                                             13]
    # the same rule in UTC drifts to 10:00 local after the change: why timeZone exists
    drifting = new_event_text(data.__class__(**{**data.__dict__, "time_zone": None}),
                              "uid-utc", "organizer@example.com", NOW)
    assert "DTSTART:20270301T140000Z" in lines_of(drifting)
    assert expand(drifting, utc(2027, 3, 20), utc(2027, 3, 23))[0]["DTSTART"].dt.astimezone(
        NEW_YORK).time() == dt.time(10)


def test_all_day_event_is_date_with_exclusive_end() -> None:
    text = new_event_text(event_input(start=utc(2026, 2, 10), end=utc(2026, 2, 11),
                                      all_day=True, recurrence=[]), "uid-a", "o@example.com", NOW)
    assert "DTSTART;VALUE=DATE:20260210" in lines_of(text)
    assert "DTEND;VALUE=DATE:20260211" in lines_of(text)
    event = master_of(text)
    assert event["DTSTART"].dt == dt.date(2026, 2, 10)

    same_day = new_event_text(event_input(start=utc(2026, 2, 10, 9), end=utc(2026, 2, 10, 10),
                                          all_day=True, recurrence=[]), "u", "o@example.com",
                              NOW)
    assert "DTEND;VALUE=DATE:20260211" in lines_of(same_day)
    three_days = new_event_text(event_input(start=utc(2026, 2, 10), end=utc(2026, 2, 12, 18),
                                            all_day=True, recurrence=[]), "u", "o@example.com",
                                NOW)
    assert "DTEND;VALUE=DATE:20260213" in lines_of(three_days)
    json = event_json(text, event_id="e1", calendar_id=1, etag='"x"')
    assert json["allDay"] is True and json["isAllDay"] is True
    assert json["start"] == {"date": "2026-02-10"} and json["end"] == {"date": "2026-02-11"}
    assert json["startUtc"] == "2026-02-10T00:00:00Z" and json["durationMinutes"] == 1440


def test_rrule_until_follows_the_start_value_type() -> None:
    all_day = new_event_text(event_input(
        start=utc(2026, 2, 10), end=utc(2026, 2, 11), all_day=True,
        recurrence=["RRULE:FREQ=DAILY;UNTIL=20260212T000000Z"]), "u1", "o@example.com", NOW)
    assert "RRULE:FREQ=DAILY;UNTIL=20260212" in lines_of(all_day)
    assert len(expand(all_day, utc(2026, 2, 1), utc(2026, 3, 1))) == 3

    # a DATE UNTIL on a timed series keeps every occurrence of that local day
    timed = new_event_text(event_input(
        start=utc(2026, 2, 10, 14), end=utc(2026, 2, 10, 15), time_zone="America/New_York",
        recurrence=["RRULE:FREQ=DAILY;UNTIL=20260212"]), "u2", "o@example.com", NOW)
    assert "RRULE:FREQ=DAILY;UNTIL=20260213T045959Z" in lines_of(timed)
    assert len(expand(timed, utc(2026, 2, 1), utc(2026, 3, 1))) == 3


def test_bare_freq_is_read_as_rrule_and_exdates_take_the_start_form() -> None:
    text = new_event_text(event_input(
        start=utc(2027, 3, 1, 14), end=utc(2027, 3, 1, 15), time_zone="America/New_York",
        recurrence=["freq=weekly;count=4", "EXDATE;VALUE=DATE:20270315",
                    "RDATE:20270401T130000Z"]), "u", "o@example.com", NOW)
    lines = lines_of(text)
    assert "RRULE:FREQ=WEEKLY;COUNT=4" in lines
    assert "EXDATE;TZID=America/New_York:20270315T090000" in lines
    assert "RDATE;TZID=America/New_York:20270401T090000" in lines
    days = [i["DTSTART"].dt.date() for i in expand(text, utc(2027, 2, 1), utc(2027, 5, 1))]
    assert days == [dt.date(2027, 3, 1), dt.date(2027, 3, 8), dt.date(2027, 3, 22),
                    dt.date(2027, 4, 1)]


@pytest.mark.parametrize("line", [
    "RRULE:FREQ=SOMETIMES",
    "RRULE:FREQ=WEEKLY;BYDAY=XX",
    "RRULE:COUNT=3",
    "RRULE:FREQ=DAILY;COUNT=2;UNTIL=20260301T000000Z",
    "RRULE:FREQ=MONTHLY;BYMONTH=13",
    "RRULE:FREQ=WEEKLY;INTERVAL=0",
    "RRULE:FREQ=WEEKLY;X-FOO=1",
    "RRULE:FREQ=DAILY\r\nX-EVIL:1",
    "DTSTART:20260101T000000Z",
    "EXDATE:not-a-date",
    "RDATE;VALUE=PERIOD:20260110T090000Z/PT1H",
    "EXDATE;TZID=Nowhere/Atlantis:20260217T090000",
    "",
])
def test_invalid_rrule_is_refused_with_the_field(line: str) -> None:
    with pytest.raises(EventMappingError) as error:
        new_event_text(event_input(recurrence=["RRULE:FREQ=WEEKLY;COUNT=4", line]
                                   if line.startswith(("EXDATE", "RDATE")) else [line]),
                       "u", "o@example.com", NOW)
    assert error.value.field == "recurrence"
    assert isinstance(error.value, ValueError)


def test_recurrence_shapes_that_are_refused() -> None:
    with pytest.raises(EventMappingError, match="at most one RRULE"):
        check_recurrence(["RRULE:FREQ=DAILY", "RRULE:FREQ=WEEKLY"])
    with pytest.raises(EventMappingError, match="EXDATE needs"):
        check_recurrence(["EXDATE:20260217T090000Z"])
    check_recurrence(["FREQ=MONTHLY;BYDAY=-1FR", "EXDATE:20260227T090000Z"])


@pytest.mark.parametrize(("overrides", "field"), [
    ({"time_zone": "Mars/Olympus"}, "timeZone"),
    ({"attendees": ["not an email"]}, "attendees"),
    ({"end": utc(2026, 2, 10, 8)}, "to"),
    ({"end": utc(2026, 2, 10, 9)}, "to"),
])
def test_invalid_input_is_refused_with_the_field(overrides: dict[str, object],
                                                 field: str) -> None:
    with pytest.raises(EventMappingError) as error:
        new_event_text(event_input(**overrides), "u", "o@example.com", NOW)
    assert error.value.field == field


TRICKY = 'Budget, Q2; "draft" \\ C:\\New folder\nsecond line\r\nthird line'


def test_text_with_commas_semicolons_backslashes_and_newlines_round_trips() -> None:
    long_description = ("Zürich café ☕ " * 12) + TRICKY
    text = new_event_text(event_input(summary=TRICKY, description=long_description,
                                      location="Room 1, floor 2; east", event_type="a,b;c"),
                          "uid-esc", "o@example.com", NOW)
    event = master_of(text)
    expected_newlines = TRICKY.replace("\r\n", "\n")
    assert str(event["SUMMARY"]) == expected_newlines
    assert str(event["DESCRIPTION"]) == long_description.replace("\r\n", "\n")
    assert str(event["LOCATION"]) == "Room 1, floor 2; east"
    assert "X-CALBRIDGE-EVENT-TYPE:a\\,b\\;c" in lines_of(text)
    for physical in text.split("\r\n"):
        assert len(physical.encode()) <= 75
    assert "\n" not in text.replace("\r\n", "")  # no bare newline slipped into a value

    patched = patch_event_text(text, EventPatch(summary=TRICKY + "!", location="A; B, C"),
                               LATER).text
    event = master_of(patched)
    assert str(event["SUMMARY"]) == expected_newlines + "!"
    assert str(event["LOCATION"]) == "A; B, C"
    json = event_json(patched, event_id="e", calendar_id=1, etag='"x"')
    assert json["title"] == expected_newlines + "!"
    assert json["eventType"] == "a,b;c"


# -- patch ------------------------------------------------------------------------------------


def test_patch_keeps_alarms_overrides_and_x_properties_byte_for_byte() -> None:
    result = patch_event_text(CLIENT_TEXT, EventPatch(summary="Weekly review"), LATER)

    assert result.changed == {"summary"}
    assert result.added_attendees == () and result.removed_attendees == ()
    expected = (CLIENT_TEXT
                .replace("SUMMARY:Team sync\r\n", "SUMMARY:Weekly review\r\n")
                .replace("SEQUENCE:3\r\nRRULE", "SEQUENCE:4\r\nRRULE")
                .replace("DTSTAMP:20260101T100000Z", "DTSTAMP:20260106T083000Z")
                .replace("LAST-MODIFIED:20260101T100000Z", "LAST-MODIFIED:20260106T083000Z"))
    assert result.text == expected
    # the same, said as the brief says it: every other physical line is identical
    changed_names = ("SUMMARY", "SEQUENCE", "DTSTAMP", "LAST-MODIFIED")
    before = [line for line in CLIENT_TEXT.split("\r\n") if not line.startswith(changed_names)]
    after = [line for line in result.text.split("\r\n") if not line.startswith(changed_names)]
    assert before == after
    override = [e for e in icalendar.Calendar.from_ical(result.text).walk("VEVENT")
                if "RECURRENCE-ID" in e][0]
    assert str(override["SUMMARY"]) == "Team sync (moved)"


def test_patch_moves_start_and_keeps_duration() -> None:
    text = new_event_text(event_input(start=utc(2027, 3, 1, 14), end=utc(2027, 3, 1, 15, 30),
                                      time_zone="America/New_York", recurrence=[]),
                          "uid-move", "o@example.com", NOW)
    result = patch_event_text(text, EventPatch(start=utc(2027, 3, 2, 15)), LATER)

    assert result.changed == {"times"}
    lines = lines_of(result.text)
    assert "DTSTART;TZID=America/New_York:20270302T100000" in lines
    assert "DTEND;TZID=America/New_York:20270302T113000" in lines
    assert "SEQUENCE:1" in lines
    assert event_window(result.text) == (utc(2027, 3, 2, 15), utc(2027, 3, 2, 16, 30))
    # start and end together: the end follows the given value
    moved = patch_event_text(text, EventPatch(start=utc(2027, 3, 5, 14), end=utc(2027, 3, 5, 18)),
                             LATER)
    assert event_window(moved.text) == (utc(2027, 3, 5, 14), utc(2027, 3, 5, 18))
    with pytest.raises(EventMappingError) as error:
        patch_event_text(text, EventPatch(end=utc(2027, 3, 1, 13)), LATER)
    assert error.value.field == "to"


def test_patch_keeps_a_duration_property_when_only_start_moves() -> None:
    text = CLIENT_TEXT.replace("DTEND;TZID=America/New_York:20270301T100000\r\n",
                               "DURATION:PT45M\r\n")
    result = patch_event_text(text, EventPatch(start=utc(2027, 3, 1, 15)), LATER)
    assert "DURATION:PT45M" in lines_of(result.text)
    assert event_window(result.text) == (utc(2027, 3, 1, 15), utc(2027, 3, 1, 15, 45))


def test_patch_moving_a_series_moves_its_exdates_and_keeps_overrides() -> None:
    result = patch_event_text(CLIENT_TEXT, EventPatch(start=utc(2027, 3, 1, 15)), LATER)

    lines = lines_of(result.text)
    assert "DTSTART;TZID=America/New_York:20270301T100000" in lines
    assert "DTEND;TZID=America/New_York:20270301T110000" in lines
    assert "EXDATE;TZID=America/New_York:20270322T100000" in lines
    assert "RECURRENCE-ID;TZID=America/New_York:20270315T090000" in lines
    starts = [i["DTSTART"].dt for i in expand(result.text, utc(2027, 2, 1), utc(2027, 5, 1))]
    assert dt.date(2027, 3, 22) not in [start.date() for start in starts]


def test_patch_to_all_day_and_back() -> None:
    text = new_event_text(event_input(recurrence=["RRULE:FREQ=DAILY;UNTIL=20260215T090000Z"]),
                          "uid-ad", "o@example.com", NOW)
    to_all_day = patch_event_text(text, EventPatch(all_day=True), LATER)
    lines = lines_of(to_all_day.text)
    assert "DTSTART;VALUE=DATE:20260210" in lines
    assert "DTEND;VALUE=DATE:20260211" in lines
    assert "RRULE:FREQ=DAILY;UNTIL=20260215" in lines
    assert len(expand(to_all_day.text, utc(2026, 2, 1), utc(2026, 3, 1))) == 6

    back = patch_event_text(to_all_day.text, EventPatch(
        all_day=False, start=utc(2026, 2, 10, 14), end=utc(2026, 2, 10, 15),
        time_zone="Europe/Berlin"), LATER)
    lines = lines_of(back.text)
    assert "DTSTART;TZID=Europe/Berlin:20260210T150000" in lines
    assert "DTEND;TZID=Europe/Berlin:20260210T160000" in lines
    assert [str(z["TZID"]) for z in icalendar.Calendar.from_ical(back.text).walk("VTIMEZONE")
            ] == ["Europe/Berlin"]
    instances = expand(back.text, utc(2026, 2, 1), utc(2026, 3, 1))
    assert len(instances) == 6
    assert all(i["DTSTART"].dt.astimezone(zoneinfo.ZoneInfo("Europe/Berlin")).hour == 15
               for i in instances)


def test_patch_add_and_remove_attendees() -> None:
    result = patch_event_text(CLIENT_TEXT, EventPatch(
        add_attendees=["carol@example.com", "BOB@example.com"],
        remove_attendees=["ANN@example.com", "nobody@example.com"]), LATER)

    assert result.changed == {"attendees"}
    assert result.added_attendees == ("carol@example.com",)
    assert result.removed_attendees == ("ann@example.com",)
    master = master_of(result.text)
    assert [str(a) for a in master["ATTENDEE"]] == ["mailto:Bob@Example.com",
                                                   "mailto:carol@example.com"]
    assert "EMAIL=ann@example.com" not in result.text.split("RECURRENCE-ID")[0].replace(
        "\r\n ", "")
    assert "NTEE;CUTYPE" not in result.text  # the folded continuation went with its line
    carol = [a for a in master["ATTENDEE"] if "carol" in str(a)][0]
    assert (carol.params["PARTSTAT"], carol.params["RSVP"]) == ("NEEDS-ACTION", "TRUE")
    # the override's own attendee list is the client's business
    assert "ATTENDEE;CN=Ann Attendee;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:ann@example.com" \
        in lines_of(result.text)


def test_patch_adding_first_attendee_adds_organizer_and_removing_last_drops_it() -> None:
    text = new_event_text(event_input(attendees=[]), "uid-o", "o@example.com", NOW)
    added = patch_event_text(text, EventPatch(add_attendees=["x@example.com"]), LATER,
                             organizer_email="boss@example.com")
    master = master_of(added.text)
    assert str(master["ORGANIZER"]) == "mailto:boss@example.com"
    assert str(master["ATTENDEE"]) == "mailto:x@example.com"
    removed = patch_event_text(added.text, EventPatch(remove_attendees=["x@example.com"]), LATER)
    assert "ORGANIZER" not in master_of(removed.text)
    with pytest.raises(EventMappingError) as error:
        patch_event_text(text, EventPatch(add_attendees=["a@x.org"],
                                          remove_attendees=["A@x.org"]), LATER)
    assert error.value.field == "removeAttendees"


def test_patch_removes_description_when_null() -> None:
    result = patch_event_text(CLIENT_TEXT, EventPatch(description=None, location=None), LATER)
    assert result.changed == {"description", "location"}
    master = master_of(result.text)
    assert "DESCRIPTION" not in master and "LOCATION" not in master
    assert "A long agenda" not in result.text  # every folded piece went
    assert "X-APPLE-STRUCTURED-LOCATION" in result.text


def test_patch_that_changes_nothing_returns_the_text_unchanged() -> None:
    result = patch_event_text(CLIENT_TEXT, EventPatch(
        summary="Team sync", start=utc(2027, 3, 1, 14), remove_attendees=["zed@example.com"],
        add_attendees=["ann@example.com"], time_zone="America/New_York"), LATER)
    assert result.text == CLIENT_TEXT
    assert result.changed == frozenset()


def test_patch_recurrence_and_event_type() -> None:
    result = patch_event_text(CLIENT_TEXT, EventPatch(
        recurrence=["RRULE:FREQ=DAILY;COUNT=3"], event_type="review"), LATER)
    assert result.changed == {"recurrence", "event_type"}
    lines = lines_of(result.text)
    assert "RRULE:FREQ=DAILY;COUNT=3" in lines
    assert not any(line.startswith(("RRULE:FREQ=WEEKLY", "EXDATE")) for line in lines)
    assert str(master_of(result.text)[EVENT_TYPE_NAME]) == "review"

    single = patch_event_text(result.text, EventPatch(recurrence=None, event_type=None), LATER)
    assert single.changed == {"recurrence", "event_type"}
    master = master_of(single.text)
    assert "RRULE" not in master and EVENT_TYPE_NAME not in master
    assert master["SEQUENCE"] == 5  # 3 as stored, one bump per patch

    with pytest.raises(EventMappingError) as error:
        patch_event_text(CLIENT_TEXT, EventPatch(recurrence=["RRULE:FREQ=NEVER"]), LATER)
    assert error.value.field == "recurrence"


def test_patch_keeps_lf_line_endings_of_the_stored_text() -> None:
    text = new_event_text(event_input(), "uid-lf", "o@example.com", NOW).replace("\r\n", "\n")
    result = patch_event_text(text, EventPatch(summary="x" * 100), LATER)
    assert "\r" not in result.text
    assert str(master_of(result.text)["SUMMARY"]) == "x" * 100


def test_event_patch_tells_not_given_from_null() -> None:
    patch = EventPatch(description=None)
    assert patch.given("description") and not patch.given("location")
    assert patch.location is UNSET


# -- respond ----------------------------------------------------------------------------------


def test_respond_sets_partstat_and_comment() -> None:
    comment = 'Looking "forward" to it: see you; bring snacks,\nplease ^^'
    text = respond_text(CLIENT_TEXT, "Ann@Example.com", "accepted", comment, LATER)

    events = icalendar.Calendar.from_ical(text).walk("VEVENT")
    for event in events:  # master and the override naming Ann
        ann = [a for a in event["ATTENDEE"] if "ann@" in str(a)] if isinstance(
            event["ATTENDEE"], list) else [event["ATTENDEE"]]
        assert ann[0].params["PARTSTAT"] == "ACCEPTED"
        assert ann[0].params["X-RESPONSE-COMMENT"] == comment
        assert ann[0].params["RSVP"] == "TRUE"  # kept: the organizer's request, not the answer
        assert event["DTSTAMP"].dt == LATER
        assert event["SEQUENCE"] == 3  # a reply does not revise the event
    master = master_of(text)
    bob = [a for a in master["ATTENDEE"] if "Bob" in str(a)][0]
    assert bob.params["PARTSTAT"] == "ACCEPTED" and "X-RESPONSE-COMMENT" not in bob.params
    assert "X-APPLE-STRUCTURED-LOCATION" in text and "BEGIN:VALARM" in text

    json = event_json(text, event_id="s", calendar_id=1, etag='"x"',
                      viewer_email="ann@example.com")
    ann_json = [a for a in json["attendees"] if a["email"] == "ann@example.com"][0]
    assert ann_json == {"email": "ann@example.com", "name": "Ann Attendee",
                        "response": "accepted", "optional": False, "comment": comment,
                        "isOrganizer": False, "isSelf": True}
    assert json["responseStatus"] == "accepted"

    declined = respond_text(text, "ann@example.com", "declined", None, LATER)
    ann = [a for a in master_of(declined)["ATTENDEE"] if "ann@" in str(a)][0]
    assert ann.params["PARTSTAT"] == "DECLINED" and "X-RESPONSE-COMMENT" not in ann.params


def test_respond_as_organizer_or_stranger_is_refused() -> None:
    with pytest.raises(OrganizerCannotRespond) as organizer:
        respond_text(CLIENT_TEXT, "OLGA@example.com", "accepted", None, LATER)
    assert organizer.value.code == "CANNOT_RSVP_AS_ORGANIZER"
    with pytest.raises(NotAnAttendee) as stranger:
        respond_text(CLIENT_TEXT, "mallory@example.com", "tentative", None, LATER)
    assert stranger.value.code == "NOT_AN_ATTENDEE"


# -- read -------------------------------------------------------------------------------------


def test_event_json_of_a_series() -> None:
    json = event_json(CLIENT_TEXT, event_id="series-1", calendar_id=7, etag='"abc"',
                      viewer_email="bob@example.com",
                      updated=dt.datetime(2026, 1, 3, 9, 0, tzinfo=dt.UTC))
    assert json["id"] == "series-1" and json["calendarId"] == 7
    assert json["iCalUID"] == "5F1A2B3C-0000-4000-8000-00000000C0DE"
    assert json["title"] == json["summary"] == "Team sync"
    assert json["location"] == "Apple Park\n1 Infinite Loop, Cupertino"
    assert json["start"] == {"dateTime": "2027-03-01T09:00:00-05:00",
                             "timeZone": "America/New_York"}
    assert json["end"] == {"dateTime": "2027-03-01T10:00:00-05:00",
                           "timeZone": "America/New_York"}
    assert (json["startUtc"], json["endUtc"]) == ("2027-03-01T14:00:00Z", "2027-03-01T15:00:00Z")
    assert json["durationMinutes"] == 60
    assert json["allDay"] is False and json["isAllDay"] is False
    assert (json["status"], json["transparency"]) == ("confirmed", "opaque")
    assert json["organizer"] == "olga@example.com" and json["organizerName"] == "Olga Organizer"
    bob = [a for a in json["attendees"] if a["name"] == "Bob"][0]
    assert bob == {"email": "Bob@Example.com", "name": "Bob", "response": "accepted",
                   "optional": True, "comment": None, "isOrganizer": False, "isSelf": True}
    assert json["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=6",
                                  "EXDATE;TZID=America/New_York:20270322T090000"]
    assert json["isRecurringEvent"] is True
    assert json["recurringEventId"] is None and json["originalStartTime"] is None
    assert json["sequence"] == 3 and json["etag"] == '"abc"'
    assert json["createdAt"] == "2026-01-01T10:00:00Z"
    assert json["updatedAt"] == "2026-01-03T09:00:00Z"
    assert json["eventType"] is None


def test_event_json_of_instance_has_series_id_and_original_start() -> None:
    instances = expand(CLIENT_TEXT, utc(2027, 2, 1), utc(2027, 5, 1))
    assert len(instances) == 5  # six weekly, one excluded
    ids = [event_json(CLIENT_TEXT, event_id="series-1", calendar_id=7, etag='"e"',
                      instance=instance)["id"] for instance in instances]
    assert ids == ["series-1_20270301T140000Z", "series-1_20270308T140000Z",
                   "series-1_20270315T130000Z", "series-1_20270329T130000Z",
                   "series-1_20270405T130000Z"]

    moved = event_json(CLIENT_TEXT, event_id="series-1", calendar_id=7, etag='"e"',
                       instance=instances[2])
    assert moved["title"] == "Team sync (moved)"
    assert moved["recurringEventId"] == "series-1"
    assert moved["originalStartTime"] == {"dateTime": "2027-03-15T09:00:00-04:00",
                                          "timeZone": "America/New_York"}
    assert moved["start"] == {"dateTime": "2027-03-15T11:00:00-04:00",
                              "timeZone": "America/New_York"}
    assert moved["startUtc"] == "2027-03-15T15:00:00Z"
    assert moved["isRecurringEvent"] is True and moved["recurrence"] == []

    in_utc = event_json(CLIENT_TEXT, event_id="series-1", calendar_id=7, etag='"e"',
                        instance=instances[1], time_zone="UTC")
    assert in_utc["start"] == {"dateTime": "2027-03-08T14:00:00+00:00", "timeZone": "UTC"}


def test_instance_ids_round_trip() -> None:
    series = "550e8400-e29b-41d4-a716-446655440000"
    timed = instance_id(series, dt.datetime(2027, 3, 15, 9, tzinfo=NEW_YORK))
    assert timed == f"{series}_20270315T130000Z"
    assert parse_instance_id(timed) == (series, utc(2027, 3, 15, 13))
    assert instance_id(series, dt.date(2026, 2, 10)) == f"{series}_20260210"
    assert parse_instance_id(f"{series}_20260210") == (series, dt.date(2026, 2, 10))
    assert parse_instance_id(series) == (series, None)
    assert parse_instance_id("odd_id_20261399") == ("odd_id_20261399", None)


def test_find_instance_returns_overrides_and_nothing_for_excluded_dates() -> None:
    plain = find_instance(CLIENT_TEXT, utc(2027, 3, 8, 14))
    assert plain is not None and plain["DTSTART"].dt == utc(2027, 3, 8, 14)
    moved = find_instance(CLIENT_TEXT, utc(2027, 3, 15, 13))
    assert moved is not None and str(moved["SUMMARY"]) == "Team sync (moved)"
    assert find_instance(CLIENT_TEXT, utc(2027, 3, 22, 13)) is None  # EXDATE
    assert find_instance(CLIENT_TEXT, utc(2027, 3, 8, 15)) is None  # no such start
    all_day = new_event_text(event_input(start=utc(2026, 2, 10), end=utc(2026, 2, 11),
                                         all_day=True), "u", "o@example.com", NOW)
    found = find_instance(all_day, dt.date(2026, 2, 17))
    assert found is not None and found["DTSTART"].dt == dt.date(2026, 2, 17)


def test_event_window_is_the_master_in_utc() -> None:
    assert event_window(CLIENT_TEXT) == (utc(2027, 3, 1, 14), utc(2027, 3, 1, 15))
    all_day = new_event_text(event_input(start=utc(2026, 2, 10), end=utc(2026, 2, 12),
                                         all_day=True, recurrence=[]), "u", "o@example.com",
                             NOW)
    assert event_window(all_day) == (utc(2026, 2, 10), utc(2026, 2, 12))
