"""The refusals of the event mapping.

Decisions:
* ``EventMappingError.field`` names the JSON field at fault, so the API can point at it.
* Refusals of a response carry the seed's error codes (``.code``).
"""

from __future__ import annotations


class EventMappingError(ValueError):
    """Input that cannot become a valid event; ``field`` names the JSON field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotAnAttendee(Exception):
    code = "NOT_AN_ATTENDEE"


class OrganizerCannotRespond(Exception):
    code = "CANNOT_RSVP_AS_ORGANIZER"
