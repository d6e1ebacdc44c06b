"""Decisions: one row per decided item (UNIQUE (thread_id, interrupt_id) is the compare-and-set), and whether it
reached the agent yet.

Reads return rows; the service turns them into `DecisionRecord`s. A requester's reads are narrowed to their
own by `requested_by`. After the insert only the delivery columns change: `next_delivery_at` is both the lease
of the replica delivering it and, after a failure, when it is due again; `applied_at` is set once, when the
agent got it. Each such write is conditional on `applied_at IS NULL`, so a late or repeated delivery changes
nothing; the decision itself is never updated or deleted.
"""

from __future__ import annotations

from approvals.store.database import Queries, Row


def decision_row(q: Queries, thread_id: str, interrupt_id: str) -> Row | None:
    """The item's decision, every column (None: nobody decided it yet)."""
    rows = q.query("SELECT * FROM decisions WHERE thread_id = ? AND interrupt_id = ?", (thread_id, interrupt_id))
    return rows[0] if rows else None


def undelivered_decisions(q: Queries, now: str, requested_by: str | None, limit: int) -> list[Row]:
    """Not yet delivered and not being delivered for the first time (a failure, or a lapsed lease), oldest first;
    of one requester's items with `requested_by`."""
    mine, params = ("", ()) if requested_by is None else (" AND requested_by = ?", (requested_by,))
    return q.query(
        "SELECT * FROM decisions WHERE applied_at IS NULL AND (delivery_error <> '' OR next_delivery_at IS NULL"
        f" OR next_delivery_at <= ?){mine} ORDER BY decided_at LIMIT ?", (now, *params, limit))


def newest_decisions(q: Queries, thread_id: str | None, requested_by: str | None, limit: int) -> list[Row]:
    """Newest first, of one thread and of one requester's items when given."""
    clauses, params = [], []
    if thread_id:
        clauses.append("thread_id = ?")
        params.append(thread_id)
    if requested_by is not None:
        clauses.append("requested_by = ?")
        params.append(requested_by)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return q.query(f"SELECT * FROM decisions{where} ORDER BY decided_at DESC LIMIT ?", (*params, limit))


def insert_decision(q: Queries, row: Row) -> bool:
    """The compare-and-set: False when the item has a decision already (nothing is written then)."""
    return bool(q.execute(
        f"INSERT INTO decisions ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
        " ON CONFLICT (thread_id, interrupt_id) DO NOTHING",
        list(row.values()),
    ))


def find_decision(q: Queries, decision_id: str) -> Row | None:
    rows = q.query("SELECT * FROM decisions WHERE decision_id = ?", (decision_id,))
    return rows[0] if rows else None


def undelivered(q: Queries) -> list[str]:
    """Every decision not yet applied, oldest first, whatever its lease (start-up recovery)."""
    return [row["decision_id"] for row in
            q.query("SELECT decision_id FROM decisions WHERE applied_at IS NULL ORDER BY decided_at")]


def due_for_delivery(q: Queries, now: str, limit: int) -> list[str]:
    """Undelivered decisions whose lease ran out or whose retry is due at `now`, oldest first."""
    rows = q.query(
        "SELECT decision_id FROM decisions WHERE applied_at IS NULL AND (next_delivery_at IS NULL"
        " OR next_delivery_at <= ?) ORDER BY decided_at LIMIT ?",
        (now, limit),
    )
    return [row["decision_id"] for row in rows]


def take_delivery_lease(q: Queries, decision_id: str, until: str, now: str | None) -> bool:
    """The delivery lease until `until`, with a compare-and-set: True for the one replica that got it. With `now`,
    only when no lease runs at `now`; without, even while one runs (start-up recovery: its holder restarted)."""
    held = "" if now is None else " AND (next_delivery_at IS NULL OR next_delivery_at <= ?)"
    return q.execute(
        f"UPDATE decisions SET next_delivery_at = ? WHERE decision_id = ? AND applied_at IS NULL{held}",
        (until, decision_id, *(() if now is None else (now,))),
    ) == 1


def delivery_attempts(q: Queries, decision_id: str) -> int:
    rows = q.query("SELECT delivery_attempts FROM decisions WHERE decision_id = ?", (decision_id,))
    return rows[0]["delivery_attempts"] if rows else 0


def record_delivery_failure(q: Queries, decision_id: str, reason: str, attempts: int, retry_at: str) -> None:
    """Why the delivery did not take, how many tries so far, and when it is due again (while still unapplied)."""
    q.execute(
        "UPDATE decisions SET delivery_error = ?, delivery_attempts = ?, next_delivery_at = ?"
        " WHERE decision_id = ? AND applied_at IS NULL",
        (reason[:2000], attempts, retry_at, decision_id),
    )


def mark_applied(q: Queries, decision_id: str, now: str) -> bool:
    """The agent got the decision (once): False when another delivery got there first."""
    return q.execute(
        "UPDATE decisions SET applied_at = ?, delivery_error = '', next_delivery_at = NULL"
        " WHERE decision_id = ? AND applied_at IS NULL",
        (now, decision_id),
    ) == 1


def oldest_without_run(q: Queries, thread_id: str) -> Row | None:
    """The thread's oldest undelivered decision that has no run yet (recorded while another run held the thread):
    its decision_id and requested_by."""
    rows = q.query("SELECT decision_id, requested_by FROM decisions d WHERE thread_id = ? AND applied_at IS NULL"
                   " AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = d.thread_id"
                   " AND r.decision_id = d.decision_id)"
                   " ORDER BY decided_at LIMIT 1", (thread_id,))
    return rows[0] if rows else None
