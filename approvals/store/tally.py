"""The tally: one `approvals` row per approver of a multi-approver item (N of M), by generation (an edit starts a
new one, and only approvals of the same answer count together).
"""

from __future__ import annotations

from approvals.store.database import Queries, Row


def approval_by(q: Queries, thread_id: str, interrupt_id: str, approver: str) -> Row | None:
    """`approver`'s approvals row of the item, or None."""
    rows = q.query("SELECT * FROM approvals WHERE thread_id = ? AND interrupt_id = ? AND approver = ?",
                   (thread_id, interrupt_id, approver))
    return rows[0] if rows else None
