"""API tokens: a bearer secret per account for the JSON API, shown once when made and stored only as a hash.

A token acts as its account with the account's current role, so a role change or a deleted account takes effect
on the next request. Every token expires (`token_days()`, default 90), and `sessions.revoke_all` ends tokens
too. The stored hash is sha256 of the token: the token is 32 random bytes, so a slow
password hash would add nothing but latency to every API call.
"""

from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from approvals.core.actors import Actor
from approvals.core.errors import ApprovalError
from approvals.identity.accounts import parse_groups, secret_hash
from approvals.store import accounts as stored_accounts
from approvals.store import api_tokens as stored
from approvals.store.database import Database, Row, iso, utcnow

TOKEN_PREFIX = "apr_"
MAX_LABEL_CHARS = 80
DEFAULT_TOKEN_DAYS = 90.0
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""`last_used_at` is rewritten at most this often, so a busy client does not turn every read into a write."""


def token_days() -> float:
    """How long a new API token lives (env APPROVAL_TOKEN_DAYS, default 90)."""
    days = float(os.environ.get("APPROVAL_TOKEN_DAYS") or DEFAULT_TOKEN_DAYS)
    if not 0 < days <= 3660:
        raise ValueError(f"APPROVAL_TOKEN_DAYS must be between 0 and 3660 days, not {days:g}.")
    return days


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
    expires_at: str
    """When it stops working, even if nobody revokes it."""

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > utcnow()


def create_token(db: Database, username: str, label: str = "") -> tuple[ApiToken, str]:
    """A new token for the account: (its record, the secret). The secret cannot be read back later."""
    username = username.strip().lower()
    label = label.strip()[:MAX_LABEL_CHARS] or "API token"
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    token = ApiToken(token_id=uuid.uuid4().hex[:16], username=username, label=label, created_at=iso(now),
                     last_used_at=None, revoked_at=None, expires_at=iso(now + timedelta(days=token_days())))
    with db.transaction() as tx:
        if stored_accounts.find_account(tx, username) is None:
            raise UnknownAccount(f"There is no account {username!r}.")
        stored.insert_token(tx, token.token_id, username, label, secret_hash(secret), token.created_at,
                            token.expires_at)
    return token, secret


def list_tokens(db: Database, username: str | None = None) -> list[ApiToken]:
    """Newest first; one account's tokens, or everyone's for `None` (the command line)."""
    return [ApiToken(**{**row, "expires_at": expiry(row)}) for row in stored.token_rows(db, username)]


def expiry(row: Row) -> str:
    """A token made before tokens expired (no expires_at) lives the default term from when it was made."""
    made = datetime.fromisoformat(row["created_at"])
    return row["expires_at"] or iso(made + timedelta(days=DEFAULT_TOKEN_DAYS))


def revoke_account_tokens(db: Database, username: str) -> int:
    """Revoke every live token of an account (signed out everywhere); returns how many."""
    return stored.revoke_tokens_of(db, username.strip().lower(), utcnow())


def revoke_token(db: Database, token_id: str, owner: str | None = None) -> None:
    """Revoke at once (the next request with it gets 401). `owner` limits it to that account's own tokens."""
    if not stored.revoke_token(db, token_id, utcnow(), owner):
        raise UnknownToken(f"There is no active token {token_id!r}.")


def actor_for_token(db: Database, secret: str, now: datetime | None = None) -> Actor | None:
    """The account a bearer token acts as, or None for an unknown, revoked, expired or orphaned token."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    now = now or datetime.now(UTC)
    row = stored.unrevoked_token(db, secret_hash(secret))
    if row is None or expiry(row) <= iso(now):
        return None
    _note_use(db, row, now)
    return Actor(row["username"], row["role"], groups=parse_groups(row["groups"]))


def _note_use(db: Database, row: Row, now: datetime) -> None:
    last = row["last_used_at"]
    if last is None or now - datetime.fromisoformat(last) >= LAST_USED_RESOLUTION:
        stored.note_use(db, row["token_id"], iso(now))
