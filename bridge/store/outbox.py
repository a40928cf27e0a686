"""The durable outbox of iTIP messages (RFC 5546 carried as RFC 6047 iMIP).

Messages are queued in the same transaction as the change they announce (call ``enqueue``
inside ``store.write()``), and delivered later by a sender that claims them one by one with a
lease, so that several processes on one database never send the same message twice.

Each claim counts as an attempt, so a message whose sending kills its sender (the lease runs
out again and again) is given up after ``max_attempts`` like one that keeps failing, and never
holds the queue. A message that can never be sent (bad header data, a recipient refused with
5xx) is failed at once with its reason (``mark_undeliverable``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from bridge.core.itip import ItipMessage
from bridge.core.mail_header import single_line
from bridge.core.times import now_ts
from bridge.store import leases
from bridge.store.bearer import select_where
from bridge.store.engine import Transactions, inserted_id
from bridge.store.schema import MAX_SUBJECT_LENGTH, outbox_message

MAX_BACKOFF_SECONDS = 6 * 3600
MAX_ERROR_LENGTH = 2000


# The messages the core's iTIP decisions describe are what the outbox queues.
OutgoingMessage = ItipMessage


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis where it was cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass(frozen=True)
class QueuedMessage(OutgoingMessage):
    id: int = 0
    status: str = "queued"
    attempts: int = 0
    created_at: int = 0
    next_attempt_at: int = 0
    last_error: str | None = None
    sent_at: int | None = None

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> QueuedMessage:
        return cls(method=row["method"], event_uid=row["event_uid"], sender=row["sender"],
                   recipients=tuple(row["recipients"]), subject=row["subject"],
                   body_text=row["body_text"], calendar_text=row["calendar_text"],
                   id=row["id"], status=row["status"], attempts=row["attempts"],
                   created_at=row["created_at"], next_attempt_at=row["next_attempt_at"],
                   last_error=row["last_error"], sent_at=row["sent_at"])


class Outbox:
    def __init__(self, db: Transactions, retry_seconds: int = 30, max_attempts: int = 12,
                 lease_seconds: int = 300) -> None:
        self.db = db
        self.retry_seconds = retry_seconds  # first retry delay; it doubles each attempt
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds  # longer than one message's SMTP conversation

    def enqueue(self, message: OutgoingMessage) -> int:
        """Queue a message; joins the caller's write transaction when there is one."""
        now = now_ts()
        with self.db.write(".outbox") as conn:
            return inserted_id(conn.execute(outbox_message.insert().values(
                created_at=now, method=message.method, event_uid=message.event_uid,
                sender=message.sender, recipients=list(message.recipients),
                subject=shorten(single_line(message.subject), MAX_SUBJECT_LENGTH),
                body_text=message.body_text, calendar_text=message.calendar_text,
                status="queued", attempts=0, next_attempt_at=now)))

    def messages(self, status: str | None = None, event_uid: str | None = None
                 ) -> list[QueuedMessage]:
        query = select_where(outbox_message, status=status, event_uid=event_uid)
        with self.db.read() as conn:
            return [QueuedMessage.from_row(r) for r in conn.execute(query).mappings()]

    def claim_due(self, limit: int = 1) -> list[QueuedMessage]:
        """Take up to ``limit`` due messages for sending, oldest first, counting an attempt for
        each. A claim lapses after the lease, so a crashed sender's messages are sent by
        another one later; after ``max_attempts`` such claims the message is given up."""
        now = now_ts()
        with self.db.write(".outbox") as conn:
            conn.execute(outbox_message.update().where(
                leases.lapsed(outbox_message, now),
                outbox_message.c.attempts >= self.max_attempts).values(
                status="failed", claimed_until=None,
                last_error=f"given up: its sender stopped while sending it "
                           f"{self.max_attempts} times"))
            ids = conn.execute(sa.select(outbox_message.c.id)
                               .where(leases.due(outbox_message, now))
                               .order_by(outbox_message.c.id).limit(limit)).scalars().all()
            claimed = leases.claim(conn, outbox_message, ids, now, self.lease_seconds)
            rows = conn.execute(sa.select(outbox_message).where(
                outbox_message.c.id.in_(claimed)).order_by(outbox_message.c.id)
            ).mappings().all() if claimed else []
        return [QueuedMessage.from_row(r) for r in rows]

    def mark_sent(self, message_id: int, note: str | None = None) -> None:
        """Sent; ``note`` keeps what the SMTP server said about recipients it refused."""
        with self.db.write(".outbox") as conn:
            conn.execute(outbox_message.update().where(outbox_message.c.id == message_id)
                         .values(status="sent", sent_at=now_ts(), claimed_until=None,
                                 last_error=_reason(note) if note else None))

    def mark_failed(self, message_id: int, error: str) -> None:
        """Back off and retry; after ``max_attempts`` the message stays 'failed' (listed by
        ``calbridge outbox list`` and re-queued by ``outbox retry``), never dropped."""
        with self.db.write(".outbox") as conn:
            attempts = conn.execute(sa.select(outbox_message.c.attempts).where(
                outbox_message.c.id == message_id)).scalar_one()
            delay = min(self.retry_seconds * 2 ** min(max(attempts - 1, 0), 20),
                        MAX_BACKOFF_SECONDS)
            # Another sender may have taken it over after our lease and sent it meanwhile.
            conn.execute(outbox_message.update().where(
                outbox_message.c.id == message_id, outbox_message.c.status != "sent").values(
                status="failed" if attempts >= self.max_attempts else "queued",
                last_error=_reason(error), claimed_until=None,
                next_attempt_at=now_ts() + delay))

    def mark_undeliverable(self, message_id: int, reason: str) -> None:
        """Failed for good: retrying cannot help (bad header data, a permanent SMTP refusal)."""
        with self.db.write(".outbox") as conn:
            conn.execute(outbox_message.update().where(
                outbox_message.c.id == message_id, outbox_message.c.status != "sent").values(
                status="failed", last_error=_reason(reason), claimed_until=None))

    def retry_failed(self) -> int:
        """Queue every failed message again, with a fresh count of attempts."""
        with self.db.write(".outbox") as conn:
            return conn.execute(outbox_message.update().where(
                outbox_message.c.status == "failed").values(
                status="queued", attempts=0, next_attempt_at=now_ts())).rowcount


def _reason(text: str) -> str:
    # One line: SMTP replies span several, and `outbox list` prints one row per message.
    return shorten(single_line(text), MAX_ERROR_LENGTH)
