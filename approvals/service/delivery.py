"""Delivering recorded decisions to their agents: who delivers which one, and when a failed one is tried again.

A decision is recorded first (the compare-and-set) and delivered after: resumed, then marked applied only once
the checkpoint (or the deployment) shows its interrupt resolved. Until then it stays "decided, not yet
delivered" with the reason. `next_delivery_at` is both the lease of the replica delivering it (set when it is
recorded, renewed when a retry claims it) and, after a failure, when it is due again, so one replica delivers a
decision at a time and a failing one backs off instead of spinning.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from approvals.core.backoff import backoff_seconds
from approvals.store.database import Database, Transaction, iso, utcnow

DELIVERY_LEASE_S = 60.0
"""How long a replica holds a decision it is delivering before another may try it."""
FIRST_RETRY_S, MAX_RETRY_S = 2.0, 300.0
DELIVERY_SECONDS = 1.0
"""How often the scheduler's "delivery" job looks for decisions due again."""
STILL_PAUSED = "The agent is still paused at this interrupt after the resume, so the decision did not reach it."


def later(seconds: float) -> str:
    return iso(datetime.now(UTC) + timedelta(seconds=seconds))


def due(db: Database, limit: int = 100) -> list[str]:
    """Undelivered decisions whose lease ran out or whose retry is due, oldest first."""
    rows = db.query(
        "SELECT decision_id FROM decisions WHERE applied_at IS NULL AND (next_delivery_at IS NULL"
        " OR next_delivery_at <= ?) ORDER BY decided_at LIMIT ?",
        (utcnow(), limit),
    )
    return [row["decision_id"] for row in rows]


def claim(db: Database, decision_id: str, *, force: bool = False) -> bool:
    """Take the delivery lease with a compare-and-set: True for the one replica that got it.

    `force` (start-up recovery) takes it even while a lease runs: the process that held it is the one restarting.
    """
    held = "" if force else " AND (next_delivery_at IS NULL OR next_delivery_at <= ?)"
    return db.execute(
        f"UPDATE decisions SET next_delivery_at = ? WHERE decision_id = ? AND applied_at IS NULL{held}",
        (later(DELIVERY_LEASE_S), decision_id, *(() if force else (utcnow(),))),
    ) == 1


def failed(db: Database, decision_id: str, reason: str) -> tuple[int, str]:
    """Record why a delivery did not take and when to try again; returns (attempts, next try)."""
    with db.transaction() as tx:
        rows = tx.query("SELECT delivery_attempts FROM decisions WHERE decision_id = ?", (decision_id,))
        attempts = (rows[0]["delivery_attempts"] if rows else 0) + 1
        retry_at = later(backoff_seconds(attempts, FIRST_RETRY_S, MAX_RETRY_S))  # 2 s, 4 s, … 5 min
        tx.execute(
            "UPDATE decisions SET delivery_error = ?, delivery_attempts = ?, next_delivery_at = ?"
            " WHERE decision_id = ? AND applied_at IS NULL",
            (reason[:2000], attempts, retry_at, decision_id),
        )
    return attempts, retry_at


def delivered(tx: Transaction, decision_id: str, now: str) -> bool:
    """Mark the decision applied (once): False when another delivery got there first."""
    return tx.execute(
        "UPDATE decisions SET applied_at = ?, delivery_error = '', next_delivery_at = NULL"
        " WHERE decision_id = ? AND applied_at IS NULL",
        (now, decision_id),
    ) == 1
