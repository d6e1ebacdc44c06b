"""API tokens: a bearer secret per account for the JSON API, shown once when made and stored only as a hash.

A token acts as its account with the account's current role, so a role change or a deleted account takes effect
on the next request. The stored hash is sha256 of the token: the token is 32 random bytes, so a slow
password hash would add nothing but latency to every API call.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from approvals.core.actors import Actor
from approvals.core.errors import ApprovalError
from approvals.identity.accounts import secret_hash
from approvals.store.database import Database, Row, iso, utcnow

TOKEN_PREFIX = "apr_"
MAX_LABEL_CHARS = 80
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""`last_used_at` is rewritten at most this often, so a busy client does not turn every read into a write."""


class UnknownAccount(ApprovalError):
    pass


class UnknownToken(ApprovalError):
    pass


@dataclass(frozen=True)
class ApiToken:
    """A token as it may be listed: everything but the secret (which is never stored)."""

    token_id: str
    username: str
    label: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


def create_token(db: Database, username: str, label: str = "") -> tuple[ApiToken, str]:
    """A new token for the account: (its record, the secret). The secret cannot be read back later."""
    username = username.strip().lower()
    label = label.strip()[:MAX_LABEL_CHARS] or "API token"
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(token_id=uuid.uuid4().hex[:16], username=username, label=label, created_at=utcnow(),
                     last_used_at=None, revoked_at=None)
    with db.transaction() as tx:
        if not tx.query("SELECT 1 AS found FROM accounts WHERE username = ?", (username,)):
            raise UnknownAccount(f"There is no account {username!r}.")
        tx.execute(
            "INSERT INTO api_tokens (token_id, username, label, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            (token.token_id, username, label, secret_hash(secret), token.created_at),
        )
    return token, secret


def list_tokens(db: Database, username: str | None = None) -> list[ApiToken]:
    """Newest first; one account's tokens, or everyone's for `None` (the command line)."""
    columns = "token_id, username, label, created_at, last_used_at, revoked_at"
    if username is None:
        rows = db.query(f"SELECT {columns} FROM api_tokens ORDER BY created_at DESC")
    else:
        rows = db.query(f"SELECT {columns} FROM api_tokens WHERE username = ? ORDER BY created_at DESC", (username,))
    return [ApiToken(**row) for row in rows]


def revoke_token(db: Database, token_id: str, owner: str | None = None) -> None:
    """Revoke at once (the next request with it gets 401). `owner` limits it to that account's own tokens."""
    owned = "" if owner is None else " AND username = ?"
    revoked = db.execute(
        f"UPDATE api_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL{owned}",
        (utcnow(), token_id, *(() if owner is None else (owner,))),
    )
    if not revoked:
        raise UnknownToken(f"There is no active token {token_id!r}.")


def actor_for_token(db: Database, secret: str, now: datetime | None = None) -> Actor | None:
    """The account a bearer token acts as, or None for an unknown, revoked or orphaned token."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    rows = db.query(
        "SELECT t.token_id, t.last_used_at, a.username, a.role FROM api_tokens t"
        " JOIN accounts a ON a.username = t.username WHERE t.token_hash = ? AND t.revoked_at IS NULL",
        (secret_hash(secret),),
    )
    if not rows:
        return None
    _note_use(db, rows[0], now or datetime.now(UTC))
    return Actor(rows[0]["username"], rows[0]["role"])


def _note_use(db: Database, row: Row, now: datetime) -> None:
    last = row["last_used_at"]
    if last is None or now - datetime.fromisoformat(last) >= LAST_USED_RESOLUTION:
        db.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_id = ?",
                   (iso(now), row["token_id"]))
