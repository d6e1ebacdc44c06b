"""The tally: one `approvals` row per approver of a multi-approver item (N of M), by generation (an edit starts a
new one, and only approvals of the same answer count together).

Each approver's row is its own compare-and-set: `upsert_approval` writes it only when there is none yet or the
one there belongs to an older generation, so the same approver cannot count twice. Counting an item's rows is
the caller's business, under `Lock.TALLY` for the item, in the same transaction.
"""

from __future__ import annotations

from approvals.store.database import Queries, Row


def approval_by(q: Queries, thread_id: str, interrupt_id: str, approver: str) -> Row | None:
    """`approver`'s approvals row of the item, or None."""
    rows = q.query("SELECT * FROM approvals WHERE thread_id = ? AND interrupt_id = ? AND approver = ?",
                   (thread_id, interrupt_id, approver))
    return rows[0] if rows else None


def item_approvals(q: Queries, thread_id: str, interrupt_id: str) -> list[Row]:
    """Every approval row of the item, all generations."""
    return q.query("SELECT * FROM approvals WHERE thread_id = ? AND interrupt_id = ?", (thread_id, interrupt_id))


def upsert_approval(q: Queries, thread_id: str, interrupt_id: str, approver: str, generation: int, decision: str,
                    response: str, edit_diff: str, approved_at: str, rule: str, policy_version: str) -> bool:
    """`approver`'s approval of `generation`; False when their row is of this generation already."""
    return bool(q.execute(
        "INSERT INTO approvals (thread_id, interrupt_id, approver, generation, decision, response, edit_diff,"
        " approved_at, rule, policy_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (thread_id, interrupt_id, approver) DO UPDATE SET generation = excluded.generation,"
        " decision = excluded.decision, response = excluded.response, edit_diff = excluded.edit_diff,"
        " approved_at = excluded.approved_at, rule = excluded.rule, policy_version = excluded.policy_version"
        " WHERE approvals.generation < excluded.generation",
        (thread_id, interrupt_id, approver, generation, decision, response, edit_diff, approved_at, rule,
         policy_version),
    ))
