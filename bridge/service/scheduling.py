"""The scheduling engine both doors use (RFC 6638 implicit scheduling, RFC 6047 for the rest):
the iTIP messages of a write are delivered in the write's own transaction.

Decisions:
* A recipient who is a user of this server (by e-mail address, case-insensitive) is
  delivered to directly: an invitation lands in the calendar that already holds the event for
  them, else in their default calendar (their first calendar; ``<user>/calendar`` made when they
  have none); a cancellation marks or excludes it there; a reply updates the organizer's copy.
  Anyone else gets iMIP mail from the outbox.
* ``locks(messages)`` names the calendars a delivery may write, so the caller takes every lock
  at the start of its transaction (sorted, as the engine does): two users answering each other
  at once never deadlock on PostgreSQL.
* A local delivery parses and indexes the attendee's copy inside the write (one small object
  per local attendee): the copy depends on what their calendar holds at that moment.
* A delivery never schedules further: writing into another user's calendar is not that user's
  action, so it sends nothing (no loops).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import email.utils
import logging
import re
import secrets
from collections.abc import Sequence

import icalendar
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bridge.core import scheduling
from bridge.core.codec import escape_text
from bridge.core.index import InvalidObject
from bridge.core.itip import ItipMessage, attendees, mail, master
from bridge.core.times import ical_utc
from bridge.store.accounts import Accounts, User
from bridge.store.notify import ServerSecrets
from bridge.store.outbox import Outbox
from bridge.store.records import CollectionRecord
from bridge.store.store import CalendarStore

log = logging.getLogger(__name__)
DEFAULT_CALENDAR = "calendar"
INBOX = "inbox"
_UNSAFE = re.compile(r"[^A-Za-z0-9@._-]")


def href_for(uid: str) -> str:
    return _UNSAFE.sub("_", uid)[:200] + ".ics"


class ReplyRefused(ValueError):
    """A reply that changes nothing, and why (not a REPLY, no such event, not an attendee)."""


ANSWERS = {"accepted": "ACCEPTED", "tentative": "TENTATIVE", "declined": "DECLINED"}
RSVP_SECRET = "rsvp-key"
RSVP_DAYS = 90


@dataclasses.dataclass(frozen=True)
class Rsvp:
    """What a signed RSVP link stands for: one attendee of one organizer's event."""

    uid: str
    attendee: str
    organizer: str
    summary: str


class RsvpLinks:
    """Signed, expiring answer links for invitations mailed outside (itsdangerous): a link
    names the event, the attendee and the organizer, and is good for ``RSVP_DAYS`` days; it
    stops working when the attendee is no longer invited."""

    def __init__(self, store: CalendarStore, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        key = ServerSecrets(store).get_or_create(RSVP_SECRET, lambda: secrets.token_urlsafe(32))
        self.signer = URLSafeTimedSerializer(key, salt="calbridge-rsvp")

    def links(self, message: ItipMessage, attendee: str) -> str:
        """The text to append to an invitation's readable part (from the message's fields:
        nothing is parsed inside the write)."""
        token = self.signer.dumps([message.event_uid, attendee.lower(), message.sender.lower(),
                                   message.subject[:200]])
        return "\nAnswer without a calendar app:\n" + "".join(
            f"  {word.title()}: {self.base_url}/rsvp/{token}?answer={word}\n"
            for word in ANSWERS)

    def read(self, token: str) -> Rsvp:
        """The link's meaning; ReplyRefused when forged or expired."""
        try:
            uid, attendee, organizer, summary = self.signer.loads(
                token, max_age=RSVP_DAYS * 86400)
        except (BadSignature, ValueError, TypeError) as exc:
            raise ReplyRefused("this answer link is not valid (or has expired)") from exc
        return Rsvp(str(uid), str(attendee), str(organizer), str(summary))


class Scheduler:
    def __init__(self, store: CalendarStore, links: RsvpLinks | None = None) -> None:
        self.store = store
        self.accounts = Accounts(store)
        self.links = links

    def _local(self, address: str) -> User | None:
        return self.accounts.get_user_by_email(address)

    def calendars_of(self, username: str) -> list[CollectionRecord]:
        return [c for c in self.store.child_collections(username) if c.tag == "VCALENDAR"]

    def _holding(self, username: str, uid: str) -> tuple[CollectionRecord, str] | None:
        """The user's calendar that holds ``uid`` and its href there."""
        for calendar in self.calendars_of(username):
            href = self.store.uid_hrefs(calendar.id).get(uid)
            if href is not None:
                return calendar, href
        return None

    def locks(self, messages: Sequence[ItipMessage]) -> list[str]:
        paths: set[str] = set()
        for message in messages:
            for recipient in message.recipients:
                user = self._local(recipient)
                if user is None:
                    continue
                calendars = self.calendars_of(user.username)
                paths.update(c.path for c in calendars)
                paths.add(f"{user.username}/{INBOX}")
                if not calendars:
                    paths.add(f"{user.username}/{DEFAULT_CALENDAR}")
        return sorted(paths)

    def deliver(self, messages: Sequence[ItipMessage]) -> None:
        """Deliver each message to each recipient; joins the caller's write transaction."""
        outbox = Outbox(self.store)
        for message in messages:
            for recipient in message.recipients:
                user = self._local(recipient)
                one = dataclasses.replace(message, recipients=(recipient,))
                if user is None:
                    if self.links is not None and message.method == "REQUEST":
                        one = dataclasses.replace(one, body_text=one.body_text + self.links
                                                  .links(message, recipient))
                    outbox.enqueue(one)
                else:
                    self._to_inbox(user, one)
                    if message.method == "REPLY":
                        self._reply(user, one)
                    elif message.method == "CANCEL":
                        self._cancel(user, one)
                    else:
                        self._invite(user, one)

    def inbox_of(self, username: str) -> CollectionRecord | None:
        found = self.store.get_collection(f"{username}/{INBOX}")
        return found if found is not None and found.tag == "" else None

    def _to_inbox(self, user: User, message: ItipMessage) -> None:
        """The message in the user's schedule inbox too (RFC 6638 4.1), the newest one per
        event: clients that read the inbox see it; the calendar already holds its effect."""
        inbox = self.inbox_of(user.username)
        if inbox is None:
            if self.store.get_collection(f"{user.username}/{INBOX}") is not None:
                return  # the user named a calendar of theirs "inbox": leave it alone
            self.store.create_collection(user.username)
            inbox, _, _ = self.store.create_collection(f"{user.username}/{INBOX}",
                                                       {"D:displayname": "Inbox"})
        try:
            self._put(inbox, href_for(message.event_uid), message.calendar_text)
        except InvalidObject as exc:  # the calendar's copy is what counts; never fail for this
            log.info("scheduling message of %s not kept in the inbox: %s", message.event_uid,
                     exc)

    def _put(self, calendar: CollectionRecord, href: str, text: str) -> None:
        self.store.put_object(calendar.id, href, self.store.prepare(text))

    def _invite(self, user: User, message: ItipMessage) -> None:
        held = self._holding(user.username, message.event_uid)
        if held is None:
            calendar, href, existing = self._default_calendar(user), \
                href_for(message.event_uid), None
        else:
            calendar, href = held
            existing = self.store.get_objects(calendar.id, [href])[0].text
        self._put(calendar, href, scheduling.attendee_copy(message.calendar_text, existing,
                                                           user.email))

    def _cancel(self, user: User, message: ItipMessage) -> None:
        held = self._holding(user.username, message.event_uid)
        if held is None:
            return  # never delivered, or already deleted by its attendee
        calendar, href = held
        existing = self.store.get_objects(calendar.id, [href])[0].text
        self._put(calendar, href, scheduling.cancelled_copy(existing, message.calendar_text))

    def _reply(self, organizer: User, message: ItipMessage) -> None:
        held = self._holding(organizer.username, message.event_uid)
        if held is None:
            return
        calendar, href = held
        existing = self.store.get_objects(calendar.id, [href])[0].text
        updated = scheduling.replied_copy(existing, message.calendar_text)
        if updated is not None:
            self._put(calendar, href, updated)

    def default_calendar_of(self, username: str) -> CollectionRecord | None:
        """Where invitations land: the user's first calendar (None: they have none yet)."""
        calendars = self.calendars_of(username)
        return min(calendars, key=lambda c: c.id) if calendars else None

    def apply_reply(self, reply_text: str, sender: str) -> str:
        """Record an attendee's iMIP REPLY (sent back by their mail client) in the local
        organizer's copy, if ``sender`` is the attendee who answers and an attendee of that
        event. Returns what was done; ReplyRefused says why nothing was."""
        try:
            reply = icalendar.Calendar.from_ical(reply_text)
            answer = master(reply)
        except (ValueError, IndexError) as exc:
            raise ReplyRefused(f"not iCalendar data: {exc}") from exc
        if str(reply.get("METHOD", "")).upper() != "REPLY":
            raise ReplyRefused("not an iTIP REPLY")
        who = [a.lower() for a in attendees(answer)]
        if who != [sender.lower()]:
            raise ReplyRefused("the reply must name exactly one attendee: its sender")
        organizer = self._local(mail(answer.get("ORGANIZER", "")))
        held = self._holding(organizer.username, str(answer.get("UID", ""))) \
            if organizer is not None else None
        if organizer is None or held is None:
            raise ReplyRefused("no event of a user of this server has that UID and organizer")
        calendar, href = held
        with self.store.write(calendar.path):
            existing = self.store.get_objects(calendar.id, [href])[0].text
            event = master(icalendar.Calendar.from_ical(existing))
            if sender.lower() not in {a.lower() for a in attendees(event)}:
                raise ReplyRefused(f"{sender} is not an attendee of that event")
            updated = scheduling.replied_copy(existing, reply_text)
            if updated is not None:
                self._put(calendar, href, updated)
        return f"{sender} answered {str(event.get('SUMMARY', answer['UID']))!r}" + (
            "" if updated is not None else " (already recorded)")

    def answer(self, rsvp: Rsvp, answer: str) -> str:
        """An RSVP link's answer, recorded as the attendee's REPLY."""
        if answer not in ANSWERS:
            raise ReplyRefused("the answer is accepted, tentative or declined")
        reply = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge//rsvp//EN\r\n"
                 "METHOD:REPLY\r\nBEGIN:VEVENT\r\n"
                 f"UID:{escape_text(rsvp.uid)}\r\nDTSTAMP:{ical_utc(dt.datetime.now(dt.UTC))}\r\n"
                 f"ORGANIZER:mailto:{rsvp.organizer}\r\n"
                 f"ATTENDEE;PARTSTAT={ANSWERS[answer]}:mailto:{rsvp.attendee}\r\n"
                 "END:VEVENT\r\nEND:VCALENDAR\r\n")
        return self.apply_reply(reply, rsvp.attendee)

    def _default_calendar(self, user: User) -> CollectionRecord:
        found = self.default_calendar_of(user.username)
        if found is not None:
            return found
        self.store.create_collection(user.username)  # the principal, if CalDAV never made it
        record, _, _ = self.store.create_collection(
            f"{user.username}/{DEFAULT_CALENDAR}",
            {"tag": "VCALENDAR", "D:displayname": "Calendar",
             "C:supported-calendar-component-set": "VEVENT,VTODO"},
            workspace_id=user.default_workspace_id)
        return record


def calendar_parts(raw: bytes) -> list[str]:
    """The iCalendar texts of an RFC 5322 message (text/calendar parts, .ics attachments)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    found = []
    for part in message.walk():
        if part.get_content_type() in ("text/calendar", "application/ics"):
            content = part.get_content()
            found.append(content.decode("utf-8", "replace") if isinstance(content, bytes)
                         else str(content))
    return found


def mail_sender(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return email.utils.parseaddr(str(message.get("From", "")))[1].lower()
