"""Delivery of the outbox as iMIP mail (RFC 6047) over SMTP.

One message at a time: claim it, build it, send it, record what happened.

- **sent**: the SMTP server took it (recipients it refused, if others were taken, are noted).
- **failed at once, with the reason**: it can never be sent as it is, so retrying would only
  hold the queue: it cannot be built (an address that is not one, an unknown method), its
  recipients are refused with 5xx, its data is refused with 5xx, or it needs SMTPUTF8 and the
  server has none.
- **retried with doubling delays**: 4xx answers, and anything that is the server's trouble
  rather than the message's (connection, TLS, login, MAIL FROM refused). Server trouble ends
  the round, so a server that is down costs one attempt per round, not one per message.
"""

from __future__ import annotations

import email.policy
import enum
import logging
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from bridge.config import Settings
from bridge.core.mail_header import single_line, smtp_address
from bridge.store.outbox import Outbox, QueuedMessage
from bridge.store.store import CalendarStore

log = logging.getLogger("calbridge.mail")

# CRLF line ends and a ValueError for any header value holding CR or LF, on top of our checks;
# non-ASCII text is written as RFC 2047 encoded words.
MAIL_POLICY = email.policy.SMTP.clone(raise_on_defect=True)
ITIP_METHODS = frozenset({"PUBLISH", "REQUEST", "REPLY", "ADD", "CANCEL", "REFRESH", "COUNTER",
                          "DECLINECOUNTER"})  # RFC 5546


class UnsendableMessage(ValueError):
    """The message can never be sent as it is stored."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str          # none | starttls | tls
    username: str
    password: str
    sender: str            # From: the server's address; the organizer goes in Reply-To/Sender
    timeout: float = 30.0  # seconds per SMTP command

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpSettings:
        sender = str(settings.get("smtp", "from"))
        if sender:
            # The operator's own address (it may be a local one): it only has to be one address.
            try:
                Address(addr_spec=sender)
            except (ValueError, IndexError) as exc:
                raise ValueError(f"smtp.from {sender!r} is not an e-mail address") from exc
        return cls(host=str(settings.get("smtp", "host")), port=int(settings.get("smtp", "port")),
                   security=str(settings.get("smtp", "security")).lower(),
                   username=str(settings.get("smtp", "username")),
                   password=str(settings.get("smtp", "password")), sender=sender,
                   timeout=float(settings.get("smtp", "timeout")))

    @property
    def configured(self) -> bool:
        return bool(self.host)


def configured_outbox(store: CalendarStore, settings: Settings) -> Outbox:
    return Outbox(store, retry_seconds=int(settings.get("smtp", "retry_seconds")),
                  max_attempts=int(settings.get("smtp", "max_attempts")),
                  lease_seconds=int(settings.get("smtp", "lease_seconds")))


def _address(value: str, role: str) -> str:
    try:
        return smtp_address(value)
    except ValueError as exc:
        raise UnsendableMessage(f"{role}: {exc}") from exc


def imip_email(message: QueuedMessage, from_address: str) -> EmailMessage:
    """RFC 6047: multipart/alternative with a text part and text/calendar; method=...; the
    same calendar also attached as invite.ics for clients that only look at attachments.
    Every header value from the stored message is checked first (UnsendableMessage)."""
    if message.method not in ITIP_METHODS:
        raise UnsendableMessage(f"{message.method!r} is not an iTIP method")
    sender = _address(message.sender, "sender")
    recipients = [_address(r, "recipient") for r in message.recipients]
    if not recipients:
        raise UnsendableMessage("no recipient")
    mail = EmailMessage(policy=MAIL_POLICY)
    mail["Subject"] = single_line(message.subject)
    mail["From"] = from_address or sender
    if from_address and from_address.lower() != sender.lower():
        mail["Reply-To"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain="calbridge")
    mail.set_content(message.body_text)
    mail.add_alternative(message.calendar_text.encode(), maintype="text", subtype="calendar",
                         params={"method": message.method, "charset": "utf-8"})
    mail.add_attachment(message.calendar_text.encode(), maintype="application",
                        subtype="ics", filename="invite.ics")
    return mail


def _connect(smtp: SmtpSettings) -> smtplib.SMTP:
    client: smtplib.SMTP
    if smtp.security == "tls":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    try:
        if smtp.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if smtp.username:
            client.login(smtp.username, smtp.password)
    except BaseException:
        client.close()
        raise
    return client


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{rcpt}: {_reply(code, text)}" for rcpt, (code, text) in refused.items())


class Outcome(enum.Enum):
    SENT = "sent"
    FAILED = "failed"              # for good, with its reason
    RETRY = "retry"                # this message later; go on with the next
    SERVER_TROUBLE = "trouble"     # this message later; end the round


def deliver(outbox: Outbox, smtp: SmtpSettings, message: QueuedMessage) -> Outcome:
    """Build and send one claimed message and record the outcome in the outbox."""
    try:
        mail = imip_email(message, smtp.sender)
    except Exception as exc:  # bad data in the row (checks, encoding): no retry can mend it
        outbox.mark_undeliverable(message.id, f"cannot build the message: {exc}")
        return Outcome.FAILED
    try:
        client = _connect(smtp)
    except (OSError, smtplib.SMTPException) as exc:
        outbox.mark_failed(message.id, f"{type(exc).__name__}: {exc}")
        return Outcome.SERVER_TROUBLE
    try:
        refused = client.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        reason = f"recipients refused: {_refusals(exc.recipients)}"
        if all(code >= 500 for code, _ in exc.recipients.values()):
            outbox.mark_undeliverable(message.id, reason)
            return Outcome.FAILED
        outbox.mark_failed(message.id, reason)
        return Outcome.RETRY
    except smtplib.SMTPSenderRefused as exc:  # the server's policy on our sender, not this mail
        outbox.mark_failed(message.id, f"sender refused: {_reply(exc.smtp_code, exc.smtp_error)}")
        return Outcome.SERVER_TROUBLE
    except smtplib.SMTPDataError as exc:
        reason = f"message refused: {_reply(exc.smtp_code, exc.smtp_error)}"
        if exc.smtp_code >= 500:
            outbox.mark_undeliverable(message.id, reason)
            return Outcome.FAILED
        outbox.mark_failed(message.id, reason)
        return Outcome.RETRY
    except smtplib.SMTPNotSupportedError as exc:  # an internationalized address, no SMTPUTF8
        outbox.mark_undeliverable(message.id, f"not supported by the SMTP server: {exc}")
        return Outcome.FAILED
    except (OSError, smtplib.SMTPException) as exc:
        outbox.mark_failed(message.id, f"{type(exc).__name__}: {exc}")
        return Outcome.SERVER_TROUBLE
    except Exception as exc:  # anything else comes from this message: never loop on it
        outbox.mark_undeliverable(message.id, f"cannot send the message: {exc!r}")
        return Outcome.FAILED
    finally:
        try:  # the answer to DATA counts; a QUIT that goes wrong changes nothing
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    outbox.mark_sent(message.id, f"recipients refused: {_refusals(refused)}" if refused else None)
    return Outcome.SENT


def deliver_due(outbox: Outbox, smtp: SmtpSettings, limit: int = 50) -> tuple[int, int]:
    """Send up to ``limit`` due messages, oldest first, each claimed on its own so that its
    lease covers one SMTP conversation. Returns (sent, not sent)."""
    if not smtp.configured:
        return 0, 0
    sent = failed = 0
    for _ in range(limit):
        claimed = outbox.claim_due(1)
        if not claimed:
            break
        outcome = deliver(outbox, smtp, claimed[0])
        if outcome is Outcome.SENT:
            sent += 1
            continue
        failed += 1
        log.warning("outbox message %s not delivered (%s)", claimed[0].id, outcome.value)
        if outcome is Outcome.SERVER_TROUBLE:
            break
    return sent, failed


class OutboxSender(threading.Thread):
    """Runs inside `calbridge serve`: delivers the outbox every few seconds, and at once again
    while whole batches are due."""

    def __init__(self, outbox: Outbox, smtp: SmtpSettings, interval: float = 5.0,
                 batch: int = 50) -> None:
        super().__init__(name="calbridge-outbox", daemon=True)
        self.outbox, self.smtp, self.interval, self.batch = outbox, smtp, interval, batch
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            busy = False
            try:
                busy = sum(deliver_due(self.outbox, self.smtp, self.batch)) >= self.batch
            except Exception:  # the loop must outlive a database hiccup
                log.exception("outbox delivery round failed")
            if not busy:
                self.stopped.wait(self.interval)
