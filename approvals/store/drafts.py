"""Drafts: a reviewer's work in progress in the console, kept per browser session and per item so a reload (a new
Streamlit session, the same cookie) brings it back: an open edit form's values ("edit"), each ticked row ("tick")
and an open bulk confirmation ("bulk", not tied to an item).

A draft is never a decision: only the reviewer's button sends one through the decision command, which drops the
item's drafts in its own transaction (as does a take-over, for the previous holder's edits).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from approvals.store.database import Queries

Kind = Literal["edit", "tick", "bulk"]
NO_ITEM = ("", "")
"""The (thread_id, interrupt_id) of a draft that belongs to no one item (the bulk confirmation)."""


@dataclass(frozen=True)
class Owner:
    """Whose drafts: one browser session (its token's hash, as `sessions` stores it) of one person."""

    session_hash: str
    username: str


@dataclass(frozen=True)
class Draft:
    thread_id: str
    interrupt_id: str
    kind: str
    digest: str
    """The request digest the draft was made against: a draft of a request that changed since is not restored."""
    value: Any


def keep(q: Queries, owner: Owner, kind: Kind, item: tuple[str, str], value: Any, digest: str, now: str) -> None:
    """Write (or overwrite) the owner's draft of `kind` for `item`."""
    q.execute("INSERT INTO drafts (session_hash, username, kind, thread_id, interrupt_id, digest, value, updated_at)"
              " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_hash, kind, thread_id, interrupt_id) DO UPDATE"
              " SET username = excluded.username, digest = excluded.digest, value = excluded.value,"
              " updated_at = excluded.updated_at",
              (owner.session_hash, owner.username, kind, *item, digest, json.dumps(value), now))


def find(q: Queries, owner: Owner, kind: Kind, item: tuple[str, str] = NO_ITEM) -> Draft | None:
    rows = q.query("SELECT * FROM drafts WHERE session_hash = ? AND username = ? AND kind = ? AND thread_id = ?"
                   " AND interrupt_id = ?", (owner.session_hash, owner.username, kind, *item))
    return _draft(rows[0]) if rows else None


def of_kind(q: Queries, owner: Owner, kind: Kind) -> list[Draft]:
    """The owner's drafts of `kind`, oldest first."""
    rows = q.query("SELECT * FROM drafts WHERE session_hash = ? AND username = ? AND kind = ?"
                   " ORDER BY updated_at, thread_id, interrupt_id", (owner.session_hash, owner.username, kind))
    return [_draft(row) for row in rows]


def drop(q: Queries, owner: Owner, kind: Kind, item: tuple[str, str] | None = NO_ITEM) -> int:
    """Drop the owner's draft of `kind` for `item` (every one of that kind for None)."""
    where, params = ("", ()) if item is None else (" AND thread_id = ? AND interrupt_id = ?", item)
    return q.execute(f"DELETE FROM drafts WHERE session_hash = ? AND username = ? AND kind = ?{where}",
                     (owner.session_hash, owner.username, kind, *params))


def still_pending_ticks(q: Queries, owner: Owner, requester: str | None) -> set[tuple[str, str]]:
    """Which of the owner's ticked rows are still pending (only `requester`'s, for a viewer who sees only their
    own)."""
    mine, params = ("", ()) if requester is None else (" AND p.requester = ?", (requester,))
    rows = q.query("SELECT p.thread_id, p.interrupt_id FROM drafts d JOIN pending p ON p.thread_id = d.thread_id"
                   " AND p.interrupt_id = d.interrupt_id WHERE d.session_hash = ? AND d.username = ?"
                   f" AND d.kind = 'tick' AND p.status = 'pending'{mine}",
                   (owner.session_hash, owner.username, *params))
    return {(row["thread_id"], row["interrupt_id"]) for row in rows}


def drop_decided(q: Queries, thread_id: str, interrupt_id: str, decider: str, *, resolved: bool) -> int:
    """In the decision command's transaction: the decider's drafts of the item go (the edit was submitted, the
    tick used); when the decision resolved the item, everyone's open edits of it go too. Others' ticks stay until
    their queue notices, so it can say why they were unticked."""
    everyone = " OR kind = 'edit'" if resolved else ""
    return q.execute(f"DELETE FROM drafts WHERE thread_id = ? AND interrupt_id = ? AND (username = ?{everyone})",
                     (thread_id, interrupt_id, decider))


def drop_edits_of(q: Queries, thread_id: str, interrupt_id: str, username: str) -> int:
    """A take-over: the previous holder's open edits of the item go (only the new holder may decide it now)."""
    return q.execute("DELETE FROM drafts WHERE thread_id = ? AND interrupt_id = ? AND username = ? AND kind = 'edit'",
                     (thread_id, interrupt_id, username))


def purge(q: Queries, idle_cutoff: str) -> int:
    """Drafts nobody can come back to: untouched since `idle_cutoff` (their session has idled out by then), of a
    session that ended, or edits of an item no longer pending."""
    return q.execute(
        "DELETE FROM drafts WHERE updated_at < ?"
        " OR NOT EXISTS (SELECT 1 FROM sessions s WHERE s.token_hash = drafts.session_hash AND s.revoked_at IS NULL)"
        " OR (kind = 'edit' AND NOT EXISTS (SELECT 1 FROM pending p WHERE p.thread_id = drafts.thread_id"
        " AND p.interrupt_id = drafts.interrupt_id AND p.status = 'pending'))", (idle_cutoff,))


def _draft(row: dict[str, Any]) -> Draft:
    return Draft(row["thread_id"], row["interrupt_id"], row["kind"], row["digest"], json.loads(row["value"]))
