"""Invitations and replies by email (iMIP) through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import icalendar
import pytest
import requests
from aiosmtpd.controller import Controller

from bridge.core.mail_header import check_email
from bridge.mail import UnsendableMessage, imip_email
from bridge.store.outbox import Outbox, OutgoingMessage, QueuedMessage
from radicale_plugin.store_factory import open_store
from tests.api_helpers import Api, assert_problem, cli_json, make_token
from tests.conftest import PASSWORD, QUIET_AUTH, Server, free_port, store_env

EVENTS = "/api/access/calendar/events"


@dataclass
class Mailbox:
    """An aiosmtpd handler keeping every accepted message; ``refusals`` maps a recipient to
    the stage ("RCPT" or "DATA") and the reply with which the server refuses it."""

    messages: list[tuple[list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refusals: dict[str, tuple[str, str]] = field(default_factory=dict)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def] # noqa: N802
        stage, reply = self.refusals.get(address, ("", ""))
        if stage == "RCPT":
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def] # noqa: N802
        for address in envelope.rcpt_tos:
            stage, reply = self.refusals.get(address, ("", ""))
            if stage == "DATA":
                return reply
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 30) -> list[tuple[list[str], bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.1)
        with self.lock:
            return list(self.messages)

    def take(self) -> list[tuple[list[str], bytes]]:
        with self.lock:
            taken, self.messages = self.messages, []
        return taken


@dataclass
class Smtp:
    port: int
    mailbox: Mailbox
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@dataclass
class MailEnv:
    server: Server
    smtp: Smtp
    alice: Api
    bob: Api
    calendar: dict


def start_server(data_dir: Path, smtp_port: int, store: dict[str, str] | None = None
                 ) -> Server:
    server = Server(data_dir, extra_env={
        **QUIET_AUTH, **(store or {}), "CALBRIDGE_SMTP_HOST": "127.0.0.1",
        "CALBRIDGE_SMTP_PORT": str(smtp_port),
        "CALBRIDGE_SMTP_FROM": "calendar@calbridge.test", "CALBRIDGE_SMTP_INTERVAL": "0.3",
        # A message claimed when the server stops is claimed again after the lease.
        "CALBRIDGE_SMTP_RETRY_SECONDS": "1", "CALBRIDGE_SMTP_LEASE_SECONDS": "10"})
    server.start()
    return server


@pytest.fixture(scope="module")
def shared_mail_env(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
                    backend: str) -> Iterator[MailEnv]:
    smtp = Smtp(free_port(), Mailbox())
    smtp.start()
    server = start_server(tmp_path_factory.mktemp("mail"), smtp.port, store_env(request, backend))
    server.add_user("alice")
    server.add_user("bob")
    ws = cli_json(server, "workspace", "create", "Mail", "--owner", "alice")["uuid"]
    cli_json(server, "workspace", "add-member", ws, "bob")
    alice = Api(server, ws, make_token(server, "alice", ws, "calendars:admin"))
    bob = Api(server, ws, make_token(server, "bob", ws, "calendars:write"))
    calendar = alice.post("/calendars", json={"name": "Team"}).json()
    yield MailEnv(server, smtp, alice, bob, calendar)
    server.stop()
    smtp.stop()


@pytest.fixture
def mail_env(shared_mail_env: MailEnv) -> MailEnv:
    """The shared server with an empty mailbox and an outbox with nothing left to send."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pending = [m for m in cli_json(shared_mail_env.server, "outbox", "list")
                   if m["status"] in ("queued", "sending")]
        if not pending:
            break
        time.sleep(0.2)
    shared_mail_env.smtp.mailbox.take()
    return shared_mail_env


def create(env: MailEnv, **fields: object) -> dict:
    response = env.alice.post(EVENTS, json={
        "calendarId": env.calendar["id"], "summary": "Kickoff", "from": "2026-12-10T09:00:00Z",
        "to": "2026-12-10T10:00:00Z", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def put_over_caldav(env: MailEnv, uid: str, text: str, day: str) -> str:
    """Store ``text`` as a CalDAV client does (``uid``.ics, an event on ``day``); its REST id."""
    put = requests.put(env.calendar["caldavUrl"] + f"{uid}.ics", data=text.encode(),
                       auth=("alice", PASSWORD), headers={"Content-Type": "text/calendar"})
    assert put.status_code == 201
    next_day = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    listed = env.alice.get(EVENTS, params={
        "calendarId": env.calendar["id"], "from": day, "to": next_day}).json()
    event_id: str = next(e["id"] for e in listed["events"] if e["iCalUID"] == uid)
    return event_id


def parse(raw: bytes) -> tuple[email.message.EmailMessage, icalendar.Calendar, str]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    calendar_part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    text_part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    assert calendar_part.get_param("method") == \
        icalendar.Calendar.from_ical(calendar_part.get_content())["METHOD"]
    return message, icalendar.Calendar.from_ical(calendar_part.get_content()), \
        text_part.get_content()


def test_create_with_two_attendees_delivers_two_requests(mail_env: MailEnv) -> None:
    # Both are elsewhere: a user of this server gets it in their calendar instead
    # (tests/test_scheduling.py).
    created = create(mail_env, attendees=["erin@example.net", "carol@example.org"])
    assert created["notificationQueued"] is True
    delivered = mail_env.smtp.mailbox.wait_for(2)
    assert sorted(r for rcpts, _ in delivered for r in rcpts) == ["carol@example.org",
                                                                  "erin@example.net"]
    for _, raw in delivered:
        message, cal, text = parse(raw)
        assert str(cal["METHOD"]) == "REQUEST" and "Kickoff" in message["Subject"]
        event = cal.walk("VEVENT")[0]
        assert int(event.get("SEQUENCE")) == 0 and "DTSTAMP" in event
        assert str(event["ORGANIZER"]).lower() == "mailto:alice@example.com"
        for attendee in event.get("ATTENDEE"):
            assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
            assert attendee.params["RSVP"] == "TRUE"
        assert "Kickoff" in text and "When:" in text


def test_removed_attendee_gets_a_cancel(mail_env: MailEnv) -> None:
    created = create(mail_env, attendees=["bob@example.com", "carol@example.org"])
    mail_env.smtp.mailbox.wait_for(2)
    mail_env.smtp.mailbox.take()
    patched = mail_env.alice.patch(f"{EVENTS}/{created['event']['id']}",
                                   json={"removeAttendees": ["carol@example.org"]})
    assert patched.status_code == 200 and patched.json()["notificationQueued"] is True
    delivered = mail_env.smtp.mailbox.wait_for(1)
    assert [rcpts for rcpts, _ in delivered] == [["carol@example.org"]]
    _, cal, _ = parse(delivered[0][1])
    assert str(cal["METHOD"]) == "CANCEL"
    assert str(cal.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"


def test_a_client_written_summary_too_long_for_a_subject_is_shortened_in_the_mail(
        mail_env: MailEnv) -> None:
    summary = "Long " * 600  # 3,000 characters, written by a CalDAV client
    text = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge tests//EN\r\n"
            "BEGIN:VEVENT\r\nUID:long-summary\r\nDTSTAMP:20260101T000000Z\r\n"
            "DTSTART:20261215T090000Z\r\nDTEND:20261215T100000Z\r\n"
            f"SUMMARY:{summary}\r\nORGANIZER:mailto:alice@example.com\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")
    event_id = put_over_caldav(mail_env, "long-summary", text, "2026-12-15")
    patched = mail_env.alice.patch(f"{EVENTS}/{event_id}",
                                   json={"addAttendees": ["dave@example.org"]})
    assert patched.status_code == 200, patched.text
    message, cal, _ = parse(mail_env.smtp.mailbox.wait_for(1)[0][1])
    assert len(str(message["Subject"])) <= 998 and str(message["Subject"]).endswith("…")
    assert str(cal.walk("VEVENT")[0]["SUMMARY"]) == summary  # the invitation keeps it whole


def test_respond_sends_the_organizer_a_reply_with_partstat_and_comment(
        mail_env: MailEnv) -> None:
    # An invitation from someone elsewhere, in a calendar bob may write.
    text = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge tests//EN\r\n"
            "BEGIN:VEVENT\r\nUID:from-olga\r\nDTSTAMP:20260101T000000Z\r\n"
            "DTSTART:20261217T090000Z\r\nDTEND:20261217T100000Z\r\nSUMMARY:Kickoff\r\n"
            "ORGANIZER:mailto:olga@example.org\r\n"
            "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")
    event_id = put_over_caldav(mail_env, "from-olga", text, "2026-12-17")
    answer = mail_env.bob.post(f"{EVENTS}/{event_id}/respond",
                               json={"status": "tentative", "comment": "Maybe, train is late"})
    assert answer.status_code == 200 and answer.json()["notificationQueued"] is True
    delivered = mail_env.smtp.mailbox.wait_for(1)
    assert [rcpts for rcpts, _ in delivered] == [["olga@example.org"]]
    _, cal, text = parse(delivered[0][1])
    assert str(cal["METHOD"]) == "REPLY"
    event = cal.walk("VEVENT")[0]
    attendee = event["ATTENDEE"]
    assert str(attendee).lower() == "mailto:bob@example.com"
    assert attendee.params["PARTSTAT"] == "TENTATIVE"
    assert str(event["COMMENT"]) == "Maybe, train is late" and "train is late" in text


def test_send_notifications_false_sends_nothing(mail_env: MailEnv) -> None:
    before = len(cli_json(mail_env.server, "outbox", "list"))
    created = create(mail_env, attendees=["bob@example.com"], sendNotifications=False)
    assert created["notificationQueued"] is False
    deleted = mail_env.alice.delete(f"{EVENTS}/{created['event']['id']}",
                                    params={"notifyAttendees": "false"})
    assert deleted.json()["notificationQueued"] is False
    time.sleep(1.5)  # several delivery rounds
    assert mail_env.smtp.mailbox.take() == []
    assert len(cli_json(mail_env.server, "outbox", "list")) == before


def test_nothing_is_lost_while_smtp_is_down_nor_across_a_restart(mail_env: MailEnv) -> None:
    mail_env.smtp.stop()
    for i in range(3):
        create(mail_env, summary=f"Down {i}", attendees=[f"guest{i}@example.org"])
    # A calendar app's save schedules through the same outbox.
    put_over_caldav(mail_env, "down-caldav", (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge tests//EN\r\n"
        "BEGIN:VEVENT\r\nUID:down-caldav\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20261218T090000Z\r\nDTEND:20261218T100000Z\r\nSUMMARY:Down CalDAV\r\n"
        "ORGANIZER:mailto:alice@example.com\r\nATTENDEE:mailto:guest-caldav@example.org\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"), "2026-12-18")
    time.sleep(1.0)  # delivery rounds fail and back off
    queued = [m for m in cli_json(mail_env.server, "outbox", "list") if m["status"] != "sent"]
    assert len(queued) == 4 and all(m["status"] in ("queued", "sending") for m in queued)
    assert any(m["lastError"] for m in queued)

    mail_env.server.stop()  # the server restarts while SMTP is still down
    create_later = mail_env.server
    create_later.start()
    Api(create_later, mail_env.alice.workspace, mail_env.alice.token).post(EVENTS, json={
        "calendarId": mail_env.calendar["id"], "summary": "After restart",
        "from": "2026-12-11T09:00:00Z", "to": "2026-12-11T10:00:00Z",
        "attendees": ["guest3@example.org"]})
    mail_env.smtp.start()
    delivered = mail_env.smtp.mailbox.wait_for(5, timeout=120)  # backoff doubles while SMTP is down
    time.sleep(1.5)  # a few more rounds: nothing is sent twice
    delivered = mail_env.smtp.mailbox.take()
    recipients = sorted(r for rcpts, _ in delivered for r in rcpts)
    assert recipients == sorted([f"guest{i}@example.org" for i in range(4)]
                                + ["guest-caldav@example.org"])
    statuses = {m["status"] for m in cli_json(mail_env.server, "outbox", "list")}
    assert statuses == {"sent"}


def test_without_smtp_messages_stay_queued_and_are_listed(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", extra_env=QUIET_AUTH)
    server.start()
    try:
        server.add_user("alice")
        ws = cli_json(server, "workspace", "create", "NoMail", "--owner", "alice")["uuid"]
        api = Api(server, ws, make_token(server, "alice", ws, "calendars:admin"))
        calendar = api.post("/calendars", json={"name": "c"}).json()
        created = api.post(EVENTS, json={"calendarId": calendar["id"], "summary": "Queued",
                                         "from": "2026-12-10T09:00:00Z",
                                         "to": "2026-12-10T10:00:00Z",
                                         "attendees": ["x@example.org"]}).json()
        assert created["notificationQueued"] is True
        listed = json.loads(server.cli("outbox", "list", "--json").stdout)
        assert [(m["status"], m["recipients"]) for m in listed] == [("queued",
                                                                     ["x@example.org"])]
    finally:
        server.stop()


# -- mail can be neither forged nor jammed ------------------------------------------------------

EVIL = "evil@example.com"
# What a message of ours carries at its top level; an injected header would add a name.
TOP_LEVEL_HEADERS = {"subject", "from", "reply-to", "to", "date", "message-id", "content-type",
                     "content-transfer-encoding", "mime-version"}


def outbox_of(env: MailEnv, **options: int) -> Outbox:
    """The outbox of the running server's own store, as another process would see it."""
    return Outbox(open_store(env.server.database_url), **options)


def ordinary(recipient: str, subject: str = "Ordinary", sender: str = "alice@example.com"
             ) -> OutgoingMessage:
    calendar = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge tests//EN\r\n"
                "METHOD:REQUEST\r\nEND:VCALENDAR\r\n")
    return OutgoingMessage(method="REQUEST", event_uid=f"uid-{recipient}", sender=sender,
                           recipients=(recipient,), subject=subject, body_text="Hello\n",
                           calendar_text=calendar)


def statuses(env: MailEnv) -> dict[str, dict]:
    """The outbox rows by their (one) recipient."""
    return {",".join(m["recipients"]): m for m in cli_json(env.server, "outbox", "list")}


def wait_until_settled(env: MailEnv, timeout: float = 120) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        rows = statuses(env)
        if time.monotonic() > deadline or \
                not any(m["status"] in ("queued", "sending") for m in rows.values()):
            return rows
        time.sleep(0.3)


def assert_no_injected_header(recipients: list[str], raw: bytes) -> None:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert {name.lower() for name in message.keys()} <= TOP_LEVEL_HEADERS, message.keys()
    for value in message.values():
        assert "\r" not in str(value) and "\n" not in str(value)
    assert EVIL not in recipients and EVIL not in str(message["To"])
    assert [a.addr_spec for a in message["To"].addresses] == recipients


@pytest.mark.parametrize("address", [
    f"a@example.com\r\nBcc: {EVIL}", f"a@example.com\nBcc: {EVIL}", f"a@example.com, {EVIL}",
    f"Eve <{EVIL}>", '"a b"@example.com', "a@[127.0.0.1]", "eve@localhost", "eve@example",
])
def test_the_rest_api_refuses_what_is_not_one_plain_address(shared_mail_env: MailEnv,
                                                            address: str) -> None:
    response = shared_mail_env.alice.post(EVENTS, json={
        "calendarId": shared_mail_env.calendar["id"], "summary": "Kickoff",
        "from": "2026-12-10T09:00:00Z", "to": "2026-12-10T10:00:00Z", "attendees": [address]})
    assert_problem(response, 400, "VALIDATION_ERROR", "attendees")


def test_an_smtp_from_that_is_not_one_address_is_refused_before_any_mail(tmp_path: Path
                                                                       ) -> None:
    server = Server(tmp_path / "data", extra_env={
        "CALBRIDGE_SMTP_HOST": "127.0.0.1",
        "CALBRIDGE_SMTP_FROM": f"calendar@calbridge.test\r\nBcc: {EVIL}"})
    result = server.cli("outbox", "send")
    assert result.returncode == 2 and "smtp.from" in result.stderr


def test_a_user_with_a_header_in_their_address_is_refused(shared_mail_env: MailEnv) -> None:
    result = shared_mail_env.server.cli("user", "add", "eve", "--email",
                                        f"eve@example.com\nBcc: {EVIL}", "--password", PASSWORD)
    assert result.returncode == 2 and "not an e-mail address" in result.stderr


def test_header_text_in_summaries_and_attendees_reaches_no_header_and_later_mail_flows(
        mail_env: MailEnv) -> None:
    # Through the REST API: a title on two lines, the second one a header.
    create(mail_env, summary=f"Hi\r\nBcc: {EVIL}", attendees=["guest@example.org"])
    # Through CalDAV: raw ATTENDEE values no API would take, then mail about that event.
    text = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge tests//EN\r\n"
            "BEGIN:VEVENT\r\nUID:injected\r\nDTSTAMP:20260101T000000Z\r\n"
            "DTSTART:20261216T090000Z\r\nDTEND:20261216T100000Z\r\n"
            f"SUMMARY:Hi\\nBcc: {EVIL}\r\nORGANIZER:mailto:alice@example.com\r\n"
            f"ATTENDEE:mailto:raw-a@example.com\\nBcc: {EVIL}\r\n"
            f"ATTENDEE:mailto:raw-b@example.com, {EVIL}\r\n"
            "ATTENDEE:mailto:good@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    event_id = put_over_caldav(mail_env, "injected", text, "2026-12-16")
    moved = mail_env.alice.patch(f"{EVENTS}/{event_id}", json={"location": "Room 1"})
    assert moved.status_code == 200 and moved.json()["notificationQueued"] is True
    # Through the outbox code path itself, then 50 ordinary messages queued after the bad ones.
    outbox = outbox_of(mail_env)
    with outbox.db.write(".outbox"):
        outbox.enqueue(ordinary(f"direct@example.com\r\nBcc: {EVIL}", f"Hi\r\nBcc: {EVIL}"))
        outbox.enqueue(ordinary("victim@example.org", sender=f"alice@example.com\r\nBcc: {EVIL}"))
        outbox.enqueue(ordinary("subject@example.org", f"Hi\r\nBcc: {EVIL}"))
        for i in range(50):
            outbox.enqueue(ordinary(f"ordinary{i}@example.org", f"Ordinary {i}"))

    rows = wait_until_settled(mail_env)
    delivered = mail_env.smtp.mailbox.take()
    for recipients, raw in delivered:
        assert_no_injected_header(recipients, raw)
    # good@example.org: invited by the CalDAV save, and again when the REST door moved it.
    assert sorted(r for rcpts, _ in delivered for r in rcpts) == sorted(
        ["guest@example.org", "good@example.org", "good@example.org", "subject@example.org"]
        + [f"ordinary{i}@example.org" for i in range(50)])
    subjects = {rcpts[0]: str(email.message_from_bytes(raw, policy=email.policy.default)
                              ["Subject"]) for rcpts, raw in delivered}
    assert subjects["subject@example.org"] == f"Hi Bcc: {EVIL}"
    assert subjects["guest@example.org"].startswith(f"Invitation: Hi Bcc: {EVIL} @ ")
    # The escaped \n of the CalDAV ATTENDEE arrives as a real line break.
    refused = [f"raw-a@example.com\nBcc: {EVIL}", f"raw-b@example.com, {EVIL}",
               f"direct@example.com\r\nBcc: {EVIL}", "victim@example.org"]
    for recipient in refused:
        assert rows[recipient]["status"] == "failed"
        assert "not an e-mail address" in rows[recipient]["lastError"]
    assert not [m for m in rows.values() if m["status"] in ("queued", "sending")]


@pytest.mark.parametrize("stage, reply, final_status", [
    ("RCPT", "550 5.1.1 No such user here", "failed"),
    ("DATA", "554 5.6.0 Message content refused", "failed"),
    ("RCPT", "451 4.7.1 Greylisted, try again later", "sent"),
])
def test_a_refused_recipient_never_holds_up_the_next_and_only_a_5xx_is_final(
        mail_env: MailEnv, stage: str, reply: str, final_status: str) -> None:
    mail_env.smtp.mailbox.refusals["refused@example.org"] = (stage, reply)
    try:
        create(mail_env, attendees=["refused@example.org", "next@example.org"])
        assert [r for r, _ in mail_env.smtp.mailbox.wait_for(1)] == [["next@example.org"]]
        row = statuses(mail_env)["refused@example.org"]
        # a 4xx is retried (with backoff): between two tries the row is queued again
        assert row["status"] in (("failed",) if final_status == "failed" else
                                 ("queued", "sending"))
        assert reply in row["lastError"]
        listing = mail_env.server.cli("outbox", "list").stdout.splitlines()
        assert any(line.startswith(f"{row['id']}\t") and line.endswith(reply)
                   for line in listing), listing
    finally:
        mail_env.smtp.mailbox.refusals.clear()
    create(mail_env, summary="Marker", attendees=["marker@example.org"])
    rows = wait_until_settled(mail_env)
    assert rows["refused@example.org"]["status"] == final_status
    assert rows["marker@example.org"]["status"] == "sent"
    delivered = sorted(r for rcpts, _ in mail_env.smtp.mailbox.take() for r in rcpts)
    assert delivered == sorted(["next@example.org", "marker@example.org"]
                               + (["refused@example.org"] if final_status == "sent" else []))


def test_a_message_left_sending_by_a_dead_sender_is_delivered_after_its_lease(
        mail_env: MailEnv) -> None:
    outbox = outbox_of(mail_env, lease_seconds=1)
    with outbox.db.write(".outbox"):  # claimed before the server's sender can see it
        message_id = outbox.enqueue(ordinary("orphan@example.org"))
        assert [m.id for m in outbox.claim_due(1)] == [message_id]
    # ... and this "sender" dies here, holding the claim.
    assert [r for r, _ in mail_env.smtp.mailbox.wait_for(1)] == [["orphan@example.org"]]
    row = wait_until_settled(mail_env)["orphan@example.org"]
    assert (row["status"], row["attempts"]) == ("sent", 2)


def test_a_message_that_keeps_killing_its_sender_is_given_up_and_the_next_is_claimed(
        tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> None:
    url = store_env(request, backend).get("CALBRIDGE_STORAGE_DATABASE_URL",
                                          f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    outbox = Outbox(open_store(url), max_attempts=3, lease_seconds=-1)  # every claim lapses
    deadly = outbox.enqueue(ordinary("deadly@example.org"))
    later = outbox.enqueue(ordinary("later@example.org"))
    assert [[m.id for m in outbox.claim_due(1)] for _ in range(3)] == [[deadly]] * 3
    assert [m.id for m in outbox.claim_due(1)] == [later]
    given_up = outbox.messages(status="failed")
    assert [m.id for m in given_up] == [deadly] and given_up[0].attempts == 3
    assert "stopped while sending it 3 times" in (given_up[0].last_error or "")


@pytest.mark.parametrize("address, accepted", [
    ("alice@example.com", True), ("Bob.Smith+cal@Example.ORG", True),
    ("jürgen@exämple.de", True), ("a@example.com\r\nBcc: evil@example.com", False),
    ("a@example.com,b@example.com", False), ("Alice <alice@example.com>", False),
    ('"a b"@example.com', False), ("alice@[192.0.2.1]", False), ("alice@localhost", False),
    ("alice", False), ("@example.com", False), ("alice@example.com\x00", False),
])
def test_one_address_check_for_every_door(address: str, accepted: bool) -> None:
    if accepted:
        assert check_email(address) == address
    else:
        with pytest.raises(ValueError, match="not an e-mail address"):
            check_email(address)


def queued(**fields: object) -> QueuedMessage:
    return QueuedMessage(**{**dataclasses.asdict(ordinary("bob@example.com")), **fields})


def test_a_built_message_has_single_line_rfc_2047_headers() -> None:
    built = imip_email(queued(subject="Réunion ☕\r\nBcc: evil@example.com",
                              recipients=("bob@exämple.de",)), "calendar@calbridge.test")
    raw = built.as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"=?utf-8?" in head and b"\nBcc" not in head
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(parsed["Subject"]) == "Réunion ☕ Bcc: evil@example.com"
    assert str(parsed["To"]) == "bob@xn--exmple-cua.de"
    assert str(parsed["Reply-To"]) == "alice@example.com"


@pytest.mark.parametrize("fields", [
    {"recipients": ("bob@example.com\r\nBcc: evil@example.com",)},
    {"sender": "alice@example.com\nBcc: evil@example.com"}, {"recipients": ()},
    {"method": "REQUEST\r\nBcc: evil@example.com"},
])
def test_a_message_with_bad_header_data_cannot_be_built(fields: dict) -> None:
    with pytest.raises(UnsendableMessage):
        imip_email(queued(**fields), "calendar@calbridge.test")
