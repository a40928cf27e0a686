"""Answer links in invitations mailed outside (``/rsvp/<token>``): whoever got an invitation
by mail can accept, decline or answer tentatively without a calendar app.

Decisions:
- ``GET`` only shows the question (mail scanners and link previews open links; they must not
  answer for anyone); the page's button ``POST``s the answer, which is recorded as the
  attendee's REPLY in the organizer's copy (bridge/service/scheduling.py).
- The token is the credential (signed, expiring, tied to one attendee of one event); a link
  that is forged, expired, or for someone no longer invited answers 404 and changes nothing.
"""

from __future__ import annotations

from flask import Response, request
from flask_openapi3 import APIBlueprint, Tag
from markupsafe import escape
from pydantic import Field

from bridge.models import StorableValuesModel
from bridge.service.scheduling import ANSWERS, ReplyRefused
from bridge.services import services

rsvp_blueprint = APIBlueprint("rsvp", __name__, url_prefix="/rsvp",
                              abp_tags=[Tag(name="rsvp", description="Answer links in mail")])

WORDS = {"accepted": "Accept", "tentative": "Maybe", "declined": "Decline"}


class RsvpPath(StorableValuesModel):
    token: str = Field(max_length=2000)


class RsvpQuery(StorableValuesModel):
    answer: str | None = Field(None, max_length=20)


def page(title: str, body: str, status: int = 200) -> Response:
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            "<meta name='viewport' content='width=device-width'></head>"
            f"<body><h1>{escape(title)}</h1>{body}</body></html>")
    return Response(html, status=status, mimetype="text/html")


def refused(exc: ReplyRefused) -> Response:
    return page("This link does not work", f"<p>{escape(str(exc))}</p>", 404)


@rsvp_blueprint.get("/<token>", security=[])
def ask(path: RsvpPath, query: RsvpQuery):  # type: ignore[no-untyped-def]
    """The question: the event and one button per answer (nothing is recorded yet)."""
    try:
        rsvp = services().rsvp_links.read(path.token)
    except ReplyRefused as exc:
        return refused(exc)
    chosen = query.answer if query.answer in ANSWERS else None
    buttons = "".join(
        f"<button name='answer' value='{word}'{' autofocus' if word == chosen else ''}>"
        f"{WORDS[word]}</button> " for word in ANSWERS)
    return page(rsvp.summary or "Invitation",
                f"<p>Answer for {escape(rsvp.attendee)} to {escape(rsvp.organizer)}:</p>"
                f"<form method='post'>{buttons}</form>")


@rsvp_blueprint.post("/<token>", security=[])
def answer(path: RsvpPath):  # type: ignore[no-untyped-def]
    """Record the answer as the attendee's REPLY."""
    try:
        rsvp = services().rsvp_links.read(path.token)
        done = services().events.scheduler.answer(rsvp, request.form.get("answer", ""))
    except ReplyRefused as exc:
        return refused(exc)
    return page("Thank you", f"<p>{escape(done)}.</p>")
