"""The outbox: events written in the same transaction as their cause, delivered later, at least once.

Why an outbox: an event row exists exactly when its cause committed, and a crash before delivery loses nothing. Each row
belongs to one channel: 'webhook' rows go to APPROVAL_WEBHOOK_URL (approvals/notify/webhooks.py); any other channel's
row is one notification for one recipient (approvals/notify/channels.py). A sender of a channel (the scheduler's
"outbox-<channel>" job) leases a batch of its due rows by pushing their `next_attempt_at` a lease ahead (PostgreSQL:
`FOR UPDATE SKIP LOCKED`; SQLite: the BEGIN IMMEDIATE write lock), so each row is sent by one replica, and a replica
killed mid-send only delays its batch until the lease runs out. A failed send is retried with a capped backoff. The
rows are approvals/store/outbox.py's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from approvals.core.backoff import backoff_seconds
from approvals.store import outbox
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
        """How long other senders leave a leased batch alone: longer than its sends can take, so no event is
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
        """Lease the rows that are due, send each once, and settle them; returns how many were tried."""
        rows = self._lease_batch()
        for row in rows:
            try:
                error = self.send(row)
            except Exception as failure:  # a channel's bug must not stop the others' rows: retried, and logged
                log.exception("%s sender: sending %s failed", self.channel, row["event_id"])
                error = f"{type(failure).__name__}: {failure}"
            self._settle(row, error)
        return len(rows)

    def _lease_batch(self) -> list[Row]:
        """This replica's batch of due rows, left alone by other senders for `Delivery.lease_s`."""
        now = datetime.now(UTC)
        if not outbox.any_due(self._db, self.channel, iso(now)):
            return []  # the common case takes no lock at all
        with self._db.transaction() as tx:
            return outbox.lease_due(tx, self.channel, iso(now), self.delivery.batch,
                                    iso(now + timedelta(seconds=self.delivery.lease_s)))

    def _settle(self, row: Row, error: str | None) -> None:
        if error is None:
            outbox.remove(self._db, row["event_id"])
            return
        attempts = row["attempts"] + 1
        retry_at = datetime.now(UTC) + timedelta(seconds=self.delivery.retry_delay(attempts))
        log.warning("%s event %s: try %d failed (%s); next try at %s", self.channel, row["event_id"], attempts,
                    error, iso(retry_at))
        outbox.retry_later(self._db, row["event_id"], attempts, iso(retry_at), error[:500])
