"""bridge.core.itip: who gets which iTIP message when an event is created, changed, answered or
deleted (the decisions the REST views make today, from the two versions alone)."""

from __future__ import annotations

import datetime as dt

import icalendar

from bridge.core.itip import ItipMessage, messages_for, request
from bridge.mapping import events as mapping
from bridge.mapping.events import EventPatch

NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 1, 6, 8, 30, tzinfo=dt.UTC)
ORGANIZER = "Olga@example.com"


def parsed(text: str) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(text)


def created(*attendees: str) -> str:
    return mapping.new_event_text(mapping.EventInput(
        calendar_id=1, summary="Planning", start=dt.datetime(2026, 2, 2, 9, tzinfo=dt.UTC),
        end=dt.datetime(2026, 2, 2, 10, tzinfo=dt.UTC), attendees=attendees),
        "uid-1", ORGANIZER, NOW)


def patched(text: str, patch: EventPatch) -> str:
    return mapping.patch_event_text(text, patch, LATER, ORGANIZER).text


def sent(messages: list[ItipMessage]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(m.method, m.sender, m.recipients) for m in messages]


def test_a_new_meeting_invites_everyone_but_the_organizer() -> None:
    text = created("a@example.com", "olga@EXAMPLE.com", "b@example.com", "A@example.com")
    assert sent(messages_for(None, parsed(text), ORGANIZER)) == [
        ("REQUEST", ORGANIZER, ("a@example.com", "b@example.com"))]
    assert messages_for(None, parsed(created()), ORGANIZER) == []


def test_deleting_cancels_for_every_attendee() -> None:
    text = created("a@example.com", "b@example.com")
    [message] = messages_for(parsed(text), None, ORGANIZER, NOW)
    assert sent([message]) == [("CANCEL", ORGANIZER, ("a@example.com", "b@example.com"))]
    assert "STATUS:CANCELLED" in message.calendar_text
    assert messages_for(parsed(created()), None, ORGANIZER) == []
    assert messages_for(None, None, ORGANIZER) == []


def test_rescheduling_sends_the_event_to_everyone_again() -> None:
    old = created("a@example.com", "b@example.com")
    for patch in (EventPatch(summary="Review"), EventPatch(location="Room 4"),
                  EventPatch(start=dt.datetime(2026, 2, 2, 11, tzinfo=dt.UTC)),
                  EventPatch(recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"]),
                  EventPatch(time_zone="Europe/Berlin"), EventPatch(all_day=True)):
        new = patched(old, patch)
        assert sent(messages_for(parsed(old), parsed(new), ORGANIZER)) == [
            ("REQUEST", ORGANIZER, ("a@example.com", "b@example.com"))], patch


def test_other_changes_send_nothing_and_no_change_sends_nothing() -> None:
    old = created("a@example.com")
    for patch in (EventPatch(description="Agenda"), EventPatch(event_type="focus"),
                  EventPatch(summary="Planning")):
        new = patched(old, patch)
        assert messages_for(parsed(old), parsed(new), ORGANIZER) == [], patch


def test_added_attendees_alone_are_invited_and_removed_ones_get_a_cancel() -> None:
    old = created("a@example.com", "b@example.com")
    new = patched(old, EventPatch(add_attendees=["c@example.com"],
                                  remove_attendees=["b@example.com"]))
    messages = messages_for(parsed(old), parsed(new), ORGANIZER, LATER)
    assert sent(messages) == [("REQUEST", ORGANIZER, ("c@example.com",)),
                              ("CANCEL", ORGANIZER, ("b@example.com",))]
    assert "Planning" in messages[1].subject  # the cancel describes the old version


def test_removing_while_rescheduling_invites_the_rest_and_cancels_the_removed() -> None:
    old = created("a@example.com", "b@example.com")
    new = patched(old, EventPatch(summary="Review", remove_attendees=["a@example.com"]))
    assert sent(messages_for(parsed(old), parsed(new), ORGANIZER)) == [
        ("REQUEST", ORGANIZER, ("b@example.com",)), ("CANCEL", ORGANIZER, ("a@example.com",))]


def test_an_answer_is_a_reply_to_the_organizer_with_the_comment() -> None:
    old = created("Ann@example.com", "b@example.com")
    new = mapping.respond_text(old, "ann@example.com", "accepted", "See you", LATER)
    [message] = messages_for(parsed(old), parsed(new), "ann@example.com", LATER)
    assert sent([message]) == [("REPLY", "ann@example.com", (ORGANIZER,))]
    assert "PARTSTAT=ACCEPTED" in message.calendar_text
    assert "COMMENT:See you" in message.calendar_text
    assert message.subject.startswith("Accepted: Planning")
    again = mapping.respond_text(new, "ann@example.com", "accepted", None, LATER + dt.timedelta(1))
    assert sent(messages_for(parsed(new), parsed(again), "ann@example.com")) == [
        ("REPLY", "ann@example.com", (ORGANIZER,))]


def test_an_attendee_who_edits_the_event_reschedules_it() -> None:
    old = created("a@example.com", "b@example.com")
    new = patched(old, EventPatch(summary="Moved"))
    assert sent(messages_for(parsed(old), parsed(new), "a@example.com")) == [
        ("REQUEST", "a@example.com", ("b@example.com",))]


def test_a_request_leaves_out_alarms_and_leaves_the_parsed_event_alone() -> None:
    text = created("a@example.com").replace(
        "END:VEVENT", "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT")
    calendar = parsed(text)
    message = request(calendar, ORGANIZER, ["a@example.com"])
    assert "VALARM" not in message.calendar_text
    assert "METHOD:REQUEST" in message.calendar_text
    assert calendar.to_ical() == parsed(text).to_ical()
