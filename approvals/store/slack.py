"""Slack's own tables: `slack_messages` (each message posted about an item, with its blocks, so a decision made
anywhere can rewrite it) and `slack_requests_seen` (the signatures of interactivity requests already taken).

Both are written with single statements, each atomic on its own: a message is remembered once per (channel, ts),
and a signature is taken by the one insert that adds it, so of two replicas given the same request exactly one
carries it out. Signatures are kept only as long as Slack would still accept their request.
"""

from __future__ import annotations

from approvals.store.database import Queries, Row


def remember_message(q: Queries, channel: str, ts: str, thread_id: str, interrupt_id: str, address: str, event: str,
                     blocks: str, posted_at: str) -> None:
    """A message just posted about an item (`blocks` as JSON), kept once per (channel, ts)."""
    q.execute(
        "INSERT INTO slack_messages (channel, ts, thread_id, interrupt_id, address, event, blocks, posted_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, ts) DO NOTHING",
        (channel, ts, thread_id, interrupt_id, address, event, blocks, posted_at))


def posted_before(q: Queries, thread_id: str, interrupt_id: str, address: str, event: str) -> bool:
    """Whether this event of this item was posted to `address` already."""
    return bool(q.query(
        "SELECT 1 AS posted FROM slack_messages WHERE thread_id = ? AND interrupt_id = ? AND address = ?"
        " AND event = ?", (thread_id, interrupt_id, address, event)))


def item_messages(q: Queries, thread_id: str, interrupt_id: str) -> list[Row]:
    """Every message posted about the item: `channel`, `ts` and `blocks` (JSON)."""
    return q.query("SELECT channel, ts, blocks FROM slack_messages WHERE thread_id = ? AND interrupt_id = ?",
                   (thread_id, interrupt_id))


def first_sighting(q: Queries, signature: str, seen_at: str, forget_before: str) -> bool:
    """Forget signatures seen before `forget_before`, then remember this one: False when it is known (a replay)."""
    q.execute("DELETE FROM slack_requests_seen WHERE seen_at < ?", (forget_before,))
    return q.execute("INSERT INTO slack_requests_seen (signature, seen_at) VALUES (?, ?)"
                     " ON CONFLICT (signature) DO NOTHING", (signature, seen_at)) == 1
