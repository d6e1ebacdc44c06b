"""The outbox table: events queued in the transaction of their cause, each row sent later by one replica.

A row is added with the caller's transaction (so it exists exactly when its cause committed), then a sender leases
a batch of its channel's due rows by pushing their `next_attempt_at` a lease ahead, in one transaction
(PostgreSQL: `tx.skip_locked`, so replicas leasing at once get different rows; SQLite: the write lock), and
settles each row alone: removed once sent, or given its next try. Webhook rows have no recipient (the channel
column's default, 'webhook'); a channel's row names one recipient.
"""

from __future__ import annotations

from approvals.store.database import Queries, Row, Transaction


def add_webhook_event(tx: Queries, event_id: str, event: str, body: str, created_at: str) -> None:
    """Queue an event for APPROVAL_WEBHOOK_URL, due at once."""
    tx.execute(
        "INSERT INTO outbox (event_id, event, body, created_at, attempts, next_attempt_at, last_error)"
        " VALUES (?, ?, ?, ?, 0, ?, '')",
        (event_id, event, body, created_at, created_at),
    )


def add_notification(tx: Queries, event_id: str, event: str, body: str, created_at: str, channel: str,
                     recipient: str) -> None:
    """Queue one row of a channel (a notification for `recipient`, or Slack's update of a decided item), due at
    once."""
    tx.execute(
        "INSERT INTO outbox (event_id, event, body, created_at, attempts, next_attempt_at, last_error, channel,"
        " recipient) VALUES (?, ?, ?, ?, 0, ?, '', ?, ?)",
        (event_id, event, body, created_at, created_at, channel, recipient),
    )


def any_due(q: Queries, channel: str, now: str) -> bool:
    """Whether a row of `channel` is due at `now`: the common answer, no, takes no lock."""
    return bool(q.query("SELECT 1 AS due FROM outbox WHERE channel = ? AND next_attempt_at <= ? LIMIT 1",
                        (channel, now)))


def lease_due(tx: Transaction, channel: str, now: str, batch: int, until: str) -> list[Row]:
    """Up to `batch` rows of `channel` due at `now`, oldest first, left alone by other senders until `until`."""
    rows = tx.query(
        "SELECT event_id, event, body, attempts, recipient FROM outbox WHERE channel = ?"
        f" AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?{tx.skip_locked}",
        (channel, now, batch),
    )
    if rows:
        tx.execute(
            f"UPDATE outbox SET next_attempt_at = ? WHERE event_id IN ({', '.join('?' * len(rows))})",
            (until, *(r["event_id"] for r in rows)),
        )
    return rows


def remove(q: Queries, event_id: str) -> None:
    """The row was sent: it is gone."""
    q.execute("DELETE FROM outbox WHERE event_id = ?", (event_id,))


def retry_later(q: Queries, event_id: str, attempts: int, next_attempt_at: str, error: str) -> None:
    """The row's send failed: counted, with why, and due again at `next_attempt_at`."""
    q.execute("UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE event_id = ?",
              (attempts, next_attempt_at, error, event_id))


def failing_channels(q: Queries, besides: str, attempts: int) -> list[Row]:
    """Per channel (but `besides`), by name: how many of its rows failed at least `attempts` times (`waiting`),
    and the last error of one of them."""
    return q.query("SELECT channel, COUNT(*) AS waiting, MAX(last_error) AS last_error FROM outbox"
                   " WHERE channel <> ? AND attempts >= ? GROUP BY channel ORDER BY channel", (besides, attempts))
