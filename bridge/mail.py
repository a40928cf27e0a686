"""Delivery of the outbox as iMIP mail (RFC 6047) over SMTP."""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from bridge.config import Settings
from radicale_plugin.outbox import Outbox, QueuedMessage

log = logging.getLogger("calbridge.mail")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str          # none | starttls | tls
    username: str
    password: str
    sender: str            # From: the server's address; the organizer goes in Reply-To/Sender

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpSettings:
        return cls(host=str(settings.get("smtp", "host")), port=int(settings.get("smtp", "port")),
                   security=str(settings.get("smtp", "security")).lower(),
                   username=str(settings.get("smtp", "username")),
                   password=str(settings.get("smtp", "password")),
                   sender=str(settings.get("smtp", "from")))

    @property
    def configured(self) -> bool:
        return bool(self.host)


def imip_email(message: QueuedMessage, from_address: str) -> EmailMessage:
    """RFC 6047: multipart/alternative with a text part and text/calendar; method=...; the
    same calendar also attached as invite.ics for clients that only look at attachments."""
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = from_address or message.sender
    if from_address and from_address.lower() != message.sender.lower():
        email["Reply-To"] = message.sender
    email["To"] = ", ".join(message.recipients)
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain="calbridge")
    email.set_content(message.body_text)
    email.add_alternative(message.calendar_text.encode(), maintype="text", subtype="calendar",
                          params={"method": message.method, "charset": "utf-8"})
    email.add_attachment(message.calendar_text.encode(), maintype="application",
                         subtype="ics", filename="invite.ics")
    return email


def send_email(smtp: SmtpSettings, email: EmailMessage, recipients: tuple[str, ...]) -> None:
    client: smtplib.SMTP
    if smtp.security == "tls":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=30,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=30)
    with client:
        if smtp.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if smtp.username:
            client.login(smtp.username, smtp.password)
        client.send_message(email, to_addrs=list(recipients))


def deliver_due(outbox: Outbox, smtp: SmtpSettings, limit: int = 50) -> tuple[int, int]:
    """Send what is due; a message is marked sent only after the SMTP server accepted it.
    Returns (sent, failed)."""
    if not smtp.configured:
        return 0, 0
    sent = failed = 0
    for message in outbox.claim_due(limit):
        try:
            send_email(smtp, imip_email(message, smtp.sender), message.recipients)
        except (OSError, smtplib.SMTPException) as exc:
            outbox.mark_failed(message.id, f"{type(exc).__name__}: {exc}")
            failed += 1
            log.warning("outbox message %s not delivered: %s", message.id, exc)
            continue
        outbox.mark_sent(message.id)
        sent += 1
    return sent, failed


class OutboxSender(threading.Thread):
    """Runs inside `calbridge serve`: delivers the outbox every few seconds."""

    def __init__(self, outbox: Outbox, smtp: SmtpSettings, interval: float = 5.0) -> None:
        super().__init__(name="calbridge-outbox", daemon=True)
        self.outbox, self.smtp, self.interval = outbox, smtp, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                deliver_due(self.outbox, self.smtp)
            except Exception:  # the loop must outlive a bad message or a database hiccup
                log.exception("outbox delivery round failed")
            self.stopped.wait(self.interval)
