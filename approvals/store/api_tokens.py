"""API tokens: the `api_tokens` table (one row per bearer token, stored as its hash, with its label, expiry,
last use and revocation).

A token is looked up joined with its account, because it acts with the account's current role and groups, and a
token whose account is gone finds nothing. Expiry and what counts as a use are approvals.identity.api_tokens'.
"""

from __future__ import annotations

from approvals.store.database import Queries, Row

LISTED = "token_id, username, label, created_at, last_used_at, revoked_at, expires_at"
"""Everything about a token but its hash."""


def insert_token(q: Queries, token_id: str, username: str, label: str, token_hash: str, created_at: str,
                 expires_at: str) -> None:
    q.execute("INSERT INTO api_tokens (token_id, username, label, token_hash, created_at, expires_at)"
              " VALUES (?, ?, ?, ?, ?, ?)", (token_id, username, label, token_hash, created_at, expires_at))


def token_rows(q: Queries, username: str | None = None) -> list[Row]:
    """Newest first; one account's tokens, or everyone's for `None`."""
    if username is None:
        return q.query(f"SELECT {LISTED} FROM api_tokens ORDER BY created_at DESC")
    return q.query(f"SELECT {LISTED} FROM api_tokens WHERE username = ? ORDER BY created_at DESC", (username,))


def revoke_tokens_of(q: Queries, username: str, at: str) -> int:
    """Revoke every live token of an account; returns how many."""
    return q.execute("UPDATE api_tokens SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL", (at, username))


def revoke_token(q: Queries, token_id: str, at: str, owner: str | None = None) -> bool:
    """Revoke one live token (only `owner`'s, when given); False when there is no such live token."""
    owned = "" if owner is None else " AND username = ?"
    return bool(q.execute(f"UPDATE api_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL{owned}",
                          (at, token_id, *(() if owner is None else (owner,)))))


def unrevoked_token(q: Queries, token_hash: str) -> Row | None:
    """The unrevoked token with this hash, with its account's username, role and groups; None without an account."""
    rows = q.query(
        "SELECT t.token_id, t.last_used_at, t.created_at, t.expires_at, a.username, a.role, a.groups"
        " FROM api_tokens t"
        " JOIN accounts a ON a.username = t.username WHERE t.token_hash = ? AND t.revoked_at IS NULL",
        (token_hash,),
    )
    return rows[0] if rows else None


def note_use(q: Queries, token_id: str, at: str) -> None:
    q.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_id = ?", (at, token_id))


def purge_tokens(q: Queries, dead_before: str, legacy_before: str) -> int:
    """Delete tokens revoked or expired before `dead_before`, and ones made before tokens had an expiry (created
    before `legacy_before`)."""
    return q.execute("DELETE FROM api_tokens WHERE revoked_at < ? OR expires_at < ?"
                     " OR (expires_at IS NULL AND created_at < ?)", (dead_before, dead_before, legacy_before))
