"""Escalation steps: one row per step an undecided item went through (a reminder, a reassignment), with the rule
that caused it.

PRIMARY KEY (thread_id, interrupt_id, step) makes each step happen once however many replicas look, so the
insert itself says whether this caller is the one to send its notifications.
"""

from __future__ import annotations

from approvals.store.database import Queries, Row


def record_step(tx: Queries, thread_id: str, interrupt_id: str, step: str, happened_at: str, rule: str,
                detail: str) -> bool:
    """Record the step; False when it had happened already."""
    return bool(tx.execute(
        "INSERT INTO escalations (thread_id, interrupt_id, step, happened_at, rule, detail) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (thread_id, interrupt_id, step) DO NOTHING",
        (thread_id, interrupt_id, step, happened_at, rule, detail),
    ))


def happened(q: Queries, thread_id: str, interrupt_id: str, step: str) -> bool:
    return bool(q.query("SELECT 1 AS done FROM escalations WHERE thread_id = ? AND interrupt_id = ? AND step = ?",
                        (thread_id, interrupt_id, step)))


def items_with_step(q: Queries, step: str) -> set[tuple[str, str]]:
    """(thread_id, interrupt_id) of every item that went through `step`."""
    return {(row["thread_id"], row["interrupt_id"]) for row in q.query(
        "SELECT thread_id, interrupt_id FROM escalations WHERE step = ?", (step,))}


def newest_steps(q: Queries, thread_id: str | None, limit: int) -> list[Row]:
    """Steps newest first, of one thread or all."""
    where, params = ("WHERE thread_id = ?", [thread_id]) if thread_id else ("", [])
    return q.query(f"SELECT * FROM escalations {where} ORDER BY happened_at DESC LIMIT ?", (*params, limit))
