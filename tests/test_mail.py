"""Invitations and replies by email (iMIP) through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

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

from tests.api_helpers import Api, cli_json, make_token
from tests.conftest import PASSWORD, QUIET_AUTH, Server, free_port, store_env

EVENTS = "/api/access/calendar/events"


@dataclass
class Mailbox:
    """An aiosmtpd handler keeping every accepted message."""

    messages: list[tuple[list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def] # noqa: N802
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
        "CALBRIDGE_SMTP_RETRY_SECONDS": "1"})
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
                   if m["status"] != "sent"]
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


def parse(raw: bytes) -> tuple[email.message.EmailMessage, icalendar.Calendar, str]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    calendar_part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    text_part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    assert calendar_part.get_param("method") == \
        icalendar.Calendar.from_ical(calendar_part.get_content())["METHOD"]
    return message, icalendar.Calendar.from_ical(calendar_part.get_content()), \
        text_part.get_content()


def test_create_with_two_attendees_delivers_two_requests(mail_env: MailEnv) -> None:
    created = create(mail_env, attendees=["bob@example.com", "carol@example.org"])
    assert created["notificationQueued"] is True
    delivered = mail_env.smtp.mailbox.wait_for(2)
    assert sorted(r for rcpts, _ in delivered for r in rcpts) == ["bob@example.com",
                                                                  "carol@example.org"]
    for _, raw in delivered:
        message, cal, text = parse(raw)
        assert str(cal["METHOD"]) == "REQUEST" and "Kickoff" in message["Subject"]
        event = cal.walk("VEVENT")[0]
        assert int(event["SEQUENCE"]) == 0 and "DTSTAMP" in event
        assert str(event["ORGANIZER"]).lower() == "mailto:alice@example.com"
        for attendee in event["ATTENDEE"]:
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
    put = requests.put(mail_env.calendar["caldavUrl"] + "long-summary.ics", data=text.encode(),
                       auth=("alice", PASSWORD), headers={"Content-Type": "text/calendar"})
    assert put.status_code == 201
    listed = mail_env.alice.get(EVENTS, params={
        "calendarId": mail_env.calendar["id"], "from": "2026-12-15", "to": "2026-12-16"}).json()
    event_id = next(e["id"] for e in listed["events"] if e["iCalUID"] == "long-summary")
    patched = mail_env.alice.patch(f"{EVENTS}/{event_id}",
                                   json={"addAttendees": ["dave@example.org"]})
    assert patched.status_code == 200, patched.text
    message, cal, _ = parse(mail_env.smtp.mailbox.wait_for(1)[0][1])
    assert len(str(message["Subject"])) <= 998 and str(message["Subject"]).endswith("…")
    assert str(cal.walk("VEVENT")[0]["SUMMARY"]) == summary  # the invitation keeps it whole


def test_respond_sends_the_organizer_a_reply_with_partstat_and_comment(
        mail_env: MailEnv) -> None:
    created = create(mail_env, attendees=["bob@example.com"], sendNotifications=False)
    answer = mail_env.bob.post(f"{EVENTS}/{created['event']['id']}/respond",
                               json={"status": "tentative", "comment": "Maybe, train is late"})
    assert answer.status_code == 200 and answer.json()["notificationQueued"] is True
    delivered = mail_env.smtp.mailbox.wait_for(1)
    assert [rcpts for rcpts, _ in delivered] == [["alice@example.com"]]
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
    time.sleep(1.0)  # delivery rounds fail and back off
    queued = [m for m in cli_json(mail_env.server, "outbox", "list") if m["status"] != "sent"]
    assert len(queued) == 3 and all(m["status"] in ("queued", "sending") for m in queued)
    assert any(m["lastError"] for m in queued)

    mail_env.server.stop()  # the server restarts while SMTP is still down
    create_later = mail_env.server
    create_later.start()
    Api(create_later, mail_env.alice.workspace, mail_env.alice.token).post(EVENTS, json={
        "calendarId": mail_env.calendar["id"], "summary": "After restart",
        "from": "2026-12-11T09:00:00Z", "to": "2026-12-11T10:00:00Z",
        "attendees": ["guest3@example.org"]})
    mail_env.smtp.start()
    delivered = mail_env.smtp.mailbox.wait_for(4, timeout=60)
    time.sleep(1.5)  # a few more rounds: nothing is sent twice
    delivered = mail_env.smtp.mailbox.take()
    recipients = sorted(r for rcpts, _ in delivered for r in rcpts)
    assert recipients == [f"guest{i}@example.org" for i in range(4)]
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
