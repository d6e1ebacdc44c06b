"""Oversight: the stop switch (`paused_targets`), each reviewer's steps on an item before its decision (the
first open, the first claim).

Steps are written once (ON CONFLICT DO NOTHING keeps the first) in the caller's transaction, so a step and the
decision or claim it belongs to commit together. Pausing counts the active pauses and inserts in one step, under
`lock_pauses`. What the oversight reads back from the audit chain is in audit_log.py.
"""

from __future__ import annotations

from approvals.store.database import Lock, Queries, Row, Transaction

# -- reviewers' steps ----------------------------------------------------------------------------------------


def record_open(tx: Queries, thread_id: str, interrupt_id: str, opened_by: str, opened_at: str) -> None:
    """When `opened_by` first opened the item (a later open changes nothing)."""
    tx.execute("INSERT INTO item_opens (thread_id, interrupt_id, opened_by, opened_at) VALUES (?, ?, ?, ?)"
               " ON CONFLICT DO NOTHING", (thread_id, interrupt_id, opened_by, opened_at))


def first_open(q: Queries, thread_id: str, interrupt_id: str, opened_by: str) -> str | None:
    """When `opened_by` first opened the item, or None."""
    rows = q.query("SELECT opened_at FROM item_opens WHERE thread_id = ? AND interrupt_id = ? AND opened_by = ?",
                   (thread_id, interrupt_id, opened_by))
    return rows[0]["opened_at"] if rows else None


def record_claim_start(tx: Queries, thread_id: str, interrupt_id: str, claimed_by: str, claimed_at: str) -> None:
    """When `claimed_by` first took the claim (the claims row is renewed and deleted; this one stays)."""
    tx.execute("INSERT INTO claim_starts (thread_id, interrupt_id, claimed_by, claimed_at) VALUES (?, ?, ?, ?)"
               " ON CONFLICT DO NOTHING", (thread_id, interrupt_id, claimed_by, claimed_at))


def item_steps(q: Queries, thread_id: str, interrupt_id: str) -> list[Row]:
    """step ("opened" / "claimed"), who and happened_at of every reviewer's steps on the item, oldest first."""
    return q.query("SELECT 'opened' AS step, opened_by AS who, opened_at AS happened_at FROM item_opens"
                   " WHERE thread_id = ? AND interrupt_id = ? UNION ALL SELECT 'claimed', claimed_by, claimed_at"
                   " FROM claim_starts WHERE thread_id = ? AND interrupt_id = ?"
                   " ORDER BY happened_at, step DESC", (thread_id, interrupt_id, thread_id, interrupt_id))


# -- the stop switch -------------------------------------------------------------------------------------------


def lock_pauses(tx: Transaction) -> None:
    """Until the transaction ends, nobody else pauses: counting the pauses and adding one is a single step."""
    tx.lock(Lock.PAUSES)


def paused(q: Queries) -> list[Row]:
    """Every pause (kind, name, paused_by, paused_at), by kind and name."""
    return q.query("SELECT * FROM paused_targets ORDER BY kind, name")


def paused_keys(q: Queries) -> list[Row]:
    """kind and name of every pause, oldest first."""
    return q.query("SELECT kind, name FROM paused_targets ORDER BY paused_at")


def pause_of(q: Queries, kind: str, name: str) -> Row:
    """The pause of a tool or graph the caller knows is paused (in its transaction)."""
    return q.query("SELECT * FROM paused_targets WHERE kind = ? AND name = ?", (kind, name))[0]


def add_pause(tx: Queries, kind: str, name: str, paused_by: str, paused_at: str) -> bool:
    """Pause the tool or graph; False when it was paused already (that pause stays as it was)."""
    return bool(tx.execute("INSERT INTO paused_targets (kind, name, paused_by, paused_at) VALUES (?, ?, ?, ?)"
                           " ON CONFLICT DO NOTHING", (kind, name, paused_by, paused_at)))


def remove_pause(tx: Queries, kind: str, name: str) -> bool:
    """Resume the tool or graph; False when it was not paused."""
    return bool(tx.execute("DELETE FROM paused_targets WHERE kind = ? AND name = ?", (kind, name)))


def pauses_holding(q: Queries, graph: str, tools: list[str]) -> list[Row]:
    """The pauses of this graph or of any of these tools, by kind and name."""
    marks = ", ".join("?" * len(tools)) or "''"
    return q.query(f"SELECT * FROM paused_targets WHERE (kind = 'graph' AND name = ?) OR (kind = 'tool' AND name IN"
                   f" ({marks})) ORDER BY kind, name", (graph, *tools))
