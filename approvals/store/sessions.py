"""Browser sessions: the `sessions` table (a browser's token, stored as its hash, with who it is and when it was
last used) and `sign_in_handoffs` (the one-time codes a browser trades for a signed-in session).

A session is read together with its account's current role and groups (one join), because a signed-in session
takes both from the account on every use; approvals.identity.sessions decides what a row means.
"""

from __future__ import annotations

from approvals.store.database import Database, Queries, Row

_INSERT = ("INSERT INTO sessions (token_hash, username, role, signed_in, created_at, last_seen_at)"
           " VALUES (?, ?, ?, ?, ?, ?)")


def insert_session(q: Queries, token_hash: str, username: str, role: str, signed_in: bool, at: str) -> None:
    q.execute(_INSERT, (token_hash, username, role, int(signed_in), at, at))


def insert_guest_session(db: Database, token_hash: str, username: str, role: str, at: str) -> None:
    """A guest's session, written without waiting for the disk (a guest lost in a power cut just gets a new one);
    a second insert of the same token keeps the first."""
    db.execute_unsynced(_INSERT + " ON CONFLICT (token_hash) DO NOTHING", (token_hash, username, role, 0, at, at))


def session_exists(q: Queries, token_hash: str) -> bool:
    """Whether the token has a row at all, live or ended."""
    return bool(q.query("SELECT 1 AS found FROM sessions WHERE token_hash = ?", (token_hash,)))


def unrevoked_session(q: Queries, token_hash: str, seen_after: str) -> Row | None:
    """The session, not revoked and used after `seen_after`, with its account's role (`account_role`, None when
    the account is gone) and groups."""
    rows = q.query(
        "SELECT s.token_hash, s.username, s.role, s.signed_in, s.last_seen_at, a.role AS account_role,"
        " COALESCE(a.groups, '') AS groups FROM sessions s LEFT JOIN accounts a ON a.username = s.username"
        " WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.last_seen_at > ?",
        (token_hash, seen_after),
    )
    return rows[0] if rows else None


def touch_session(q: Queries, token_hash: str, at: str) -> None:
    q.execute("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?", (at, token_hash))


def revoke_session(q: Queries, token_hash: str, at: str) -> None:
    q.execute("UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL", (at, token_hash))


def revoke_sessions_of(q: Queries, username: str, at: str) -> int:
    """End every live session of an account; returns how many."""
    return q.execute("UPDATE sessions SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL", (at, username))


def insert_handoff(q: Queries, code_hash: str, from_token_hash: str, username: str, at: str) -> None:
    q.execute("INSERT INTO sign_in_handoffs (code_hash, from_token_hash, username, created_at) VALUES (?, ?, ?, ?)",
              (code_hash, from_token_hash, username, at))


def take_handoff(q: Queries, code_hash: str) -> Row | None:
    """The hand-off with this code, deleted as it is read: a code works once."""
    rows = q.query("SELECT * FROM sign_in_handoffs WHERE code_hash = ?", (code_hash,))
    q.execute("DELETE FROM sign_in_handoffs WHERE code_hash = ?", (code_hash,))
    return rows[0] if rows else None


def purge_sessions(q: Queries, idle_before: str, revoked_before: str) -> int:
    return q.execute("DELETE FROM sessions WHERE last_seen_at < ? OR revoked_at < ?", (idle_before, revoked_before))


def purge_handoffs(q: Queries, before: str) -> int:
    return q.execute("DELETE FROM sign_in_handoffs WHERE created_at < ?", (before,))
