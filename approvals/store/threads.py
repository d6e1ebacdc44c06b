"""The thread list: one row per conversation, with who asked and which graph it runs on.

Who may read a conversation is decided from its requester here, so an id that is not the viewer's reads like an
unknown one. A thread another process started joins the list when the index first meets it.
"""

from __future__ import annotations

from approvals.store.database import Queries


def thread_owner(q: Queries, thread_id: str) -> str | None:
    """The conversation's requester, or None when there is no such conversation."""
    rows = q.query("SELECT requester FROM threads WHERE thread_id = ?", (thread_id,))
    return rows[0]["requester"] if rows else None


def add_thread(tx: Queries, thread_id: str, title: str, requester: str, created_at: str, graph: str) -> None:
    """The thread joins the list unless it is there already (a known thread's row is left as it is)."""
    tx.execute(
        "INSERT INTO threads (thread_id, title, requester, created_at, updated_at, graph) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (thread_id) DO NOTHING",
        (thread_id, title, requester, created_at, created_at, graph),
    )
