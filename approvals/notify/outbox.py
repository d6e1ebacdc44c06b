"""The outbox: events written in the same transaction as their cause, delivered later, at least once.

Why an outbox: an event row exists exactly when its cause committed, and a crash before delivery loses nothing. Each row
belongs to one channel: 'webhook' rows go to APPROVAL_WEBHOOK_URL (approvals/notify/webhooks.py); any other channel's
row is one notification for one recipient (approvals/notify/channels.py). A sender of a channel (the scheduler's
"outbox-<channel>" job) claims a batch of its due rows by pushing their `next_attempt_at` a lease ahead (PostgreSQL:
`FOR UPDATE SKIP LOCKED`; SQLite: the BEGIN IMMEDIATE write lock), so each row is sent by one replica, and a replica
killed mid-send only delays its batch until the lease runs out. A failed send is retried with a capped backoff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from approvals.core.backoff import backoff_seconds
from approvals.store.database import Database, Row, iso

log = logging.getLogger(__name__)

WEBHOOK = "webhook"


@dataclass(frozen=True)
class Delivery:
    """How a sender paces itself; the defaults suit a real receiver, tests shrink them."""

    poll_s: float = 1.0
    first_retry_s: float = 2.0
    max_retry_s: float = 60.0
    timeout_s: float = 10.0
    batch: int = 5

    @property
    def lease_s(self) -> float:
        """How long other senders leave a claimed batch alone: longer than its sends can take, so no event is
        sent by two replicas; a sender killed mid-batch delays the rest of its batch by this much."""
        return self.batch * self.timeout_s + 5.0

    def retry_delay(self, attempts: int) -> float:
        """Exponential from `first_retry_s`, capped, with jitter so replicas do not retry in lockstep."""
        return backoff_seconds(attempts, self.first_retry_s, self.max_retry_s, jitter=0.2)


class OutboxSender:
    """Drains one channel's rows of the outbox, a batch per `deliver_due` (the scheduler's job calls it).

    Subclasses say how one row is sent (`send`: None when it was taken, else what went wrong)."""

    channel = WEBHOOK
    """Whose rows it sends: 'webhook', or a channel's name."""

    def __init__(self, db: Database, delivery: Delivery = Delivery()):
        self._db, self.delivery = db, delivery

    def send(self, row: Row) -> str | None:
        raise NotImplementedError

    def deliver_due(self) -> int:
        """Claim the rows that are due, send each once, and settle them; returns how many were tried."""
        rows = self._claim()
        for row in rows:
            try:
                error = self.send(row)
            except Exception as failure:  # a channel's bug must not stop the others' rows: retried, and logged
                log.exception("%s sender: sending %s failed", self.channel, row["event_id"])
                error = f"{type(failure).__name__}: {failure}"
            self._settle(row, error)
        return len(rows)

    def _claim(self) -> list[Row]:
        now = datetime.now(UTC)
        if not self._db.query("SELECT 1 AS due FROM outbox WHERE channel = ? AND next_attempt_at <= ? LIMIT 1",
                              (self.channel, iso(now))):
            return []  # the common case takes no lock at all
        skip_locked = " FOR UPDATE SKIP LOCKED" if self._db.dialect == "postgres" else ""
        with self._db.transaction() as tx:
            rows = tx.query(
                "SELECT event_id, event, body, attempts, recipient FROM outbox WHERE channel = ?"
                f" AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?{skip_locked}",
                (self.channel, iso(now), self.delivery.batch),
            )
            if rows:
                tx.execute(
                    f"UPDATE outbox SET next_attempt_at = ? WHERE event_id IN ({', '.join('?' * len(rows))})",
                    (iso(now + timedelta(seconds=self.delivery.lease_s)), *(r["event_id"] for r in rows)),
                )
        return rows

    def _settle(self, row: Row, error: str | None) -> None:
        if error is None:
            self._db.execute("DELETE FROM outbox WHERE event_id = ?", (row["event_id"],))
            return
        attempts = row["attempts"] + 1
        retry_at = datetime.now(UTC) + timedelta(seconds=self.delivery.retry_delay(attempts))
        log.warning("%s event %s: try %d failed (%s); next try at %s", self.channel, row["event_id"], attempts,
                    error, iso(retry_at))
        self._db.execute(
            "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE event_id = ?",
            (attempts, iso(retry_at), error[:500], row["event_id"]),
        )
