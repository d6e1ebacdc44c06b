"""Decisions: one row per decided item (UNIQUE (thread_id, interrupt_id) is the compare-and-set), and whether it
reached the agent yet.

Reads return rows; the service turns them into `DecisionRecord`s. A requester's reads are narrowed to their
own by `requested_by`.
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
