"""The thread list: one row per conversation, with who asked and which graph it runs on.

Who may read a conversation is decided from its requester here, so an id that is not the viewer's reads like an
unknown one. A thread another process started joins the list when the index first meets it. `updated_at` orders
a person's list of conversations and moves on each message and each delivered decision.
"""

from __future__ import annotations

from approvals.store.database import Queries, Row


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


def start_thread(q: Queries, thread_id: str, title: str, requester: str, now: str) -> None:
    """The conversation's row, created by its first message; a later message only moves `updated_at`."""
    q.execute(
        "INSERT INTO threads (thread_id, title, requester, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (thread_id) DO UPDATE SET updated_at = excluded.updated_at",
        (thread_id, title, requester, now, now),
    )


def touch_thread(q: Queries, thread_id: str, now: str) -> None:
    q.execute("UPDATE threads SET updated_at = ? WHERE thread_id = ?", (now, thread_id))


def recent_threads(q: Queries, requester: str, graph: str, limit: int) -> list[Row]:
    """`requester`'s conversations on `graph`, most recent first, each with whether an item of it is pending."""
    return q.query(
        "SELECT t.thread_id, t.title, t.requester, t.updated_at,"
        " EXISTS (SELECT 1 FROM pending p WHERE p.thread_id = t.thread_id AND p.status = 'pending') AS awaiting"
        " FROM threads t WHERE t.requester = ? AND t.graph = ? ORDER BY t.updated_at DESC LIMIT ?",
        (requester, graph, limit),
    )
