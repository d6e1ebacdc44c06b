"""Browser sessions: who a browser is, across reloads, new tabs and app restarts.

Every browser gets a server-issued session the first time it loads a page: a random token in an HttpOnly,
SameSite=Lax cookie, stored here only as its SHA-256. It starts as a private guest; signing in binds it to an
account, signing out revokes it. A session ends after `idle_hours()` without use. Sign-in is throttled per
username so passwords cannot be guessed quickly, and the refusal costs the same whether the account exists.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta

from approvals.core.actors import Actor
from approvals.core.errors import ApprovalError
from approvals.identity.accounts import check_password, secret_hash
from approvals.store.database import Database, Row, iso, utcnow

COOKIE = "approvals_session"
DEFAULT_IDLE_HOURS = 12.0
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
TOUCH_EVERY = timedelta(minutes=1)
"""last_seen_at is written at most this often per session: a page run must not cost a write each time."""


class SignInRefused(ApprovalError):
    """Wrong credentials, or too many recent failures; the message is safe to show."""


def idle_hours() -> float:
    """How long an unused session lives (env APPROVAL_SESSION_IDLE_HOURS, default 12)."""
    return float(os.environ.get("APPROVAL_SESSION_IDLE_HOURS") or DEFAULT_IDLE_HOURS)



def start(db: Database, actor: Actor, *, signed_in: bool) -> str:
    """A new session for `actor`; returns the token, which is stored nowhere but in the browser's cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.execute(
        "INSERT INTO sessions (token_hash, username, role, signed_in, created_at, last_seen_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (secret_hash(token), actor.name, actor.role, int(signed_in), now, now),
    )
    return token


def start_guest(db: Database) -> str:
    """A private guest for a browser without a live session: its own name, seen by nobody else."""
    return start(db, Actor(f"guest-{secrets.token_hex(5)}", "requester"), signed_in=False)


def _live_row(db: Database, token: str | None, now: datetime) -> Row | None:
    if not token:
        return None
    rows = db.query(
        "SELECT * FROM sessions WHERE token_hash = ? AND revoked_at IS NULL AND last_seen_at > ?",
        (secret_hash(token), iso(now - timedelta(hours=idle_hours()))),
    )
    return rows[0] if rows else None


def actor_for(db: Database, token: str | None, now: datetime | None = None) -> Actor | None:
    """The live session's actor, or None for a missing, tampered, revoked or expired token. Use keeps it alive."""
    now = now or datetime.now(UTC)
    row = _live_row(db, token, now)
    if row is None:
        return None
    if datetime.fromisoformat(row["last_seen_at"]) < now - TOUCH_EVERY:
        db.execute("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?", (iso(now), row["token_hash"]))
    return Actor(row["username"], row["role"], signed_in=bool(row["signed_in"]))


def sign_in(db: Database, token: str | None, username: str, password: str, now: datetime | None = None) -> Actor:
    """Bind the browser's session to the account; raises SignInRefused with a message to show.

    After MAX_FAILURES wrong passwords for one username within LOCKOUT, tries are refused unchecked for LOCKOUT,
    so the answer (and its cost) is the same for an account that does not exist.
    """
    now = now or datetime.now(UTC)
    username = username.strip().lower()
    if token is None or _live_row(db, token, now) is None:
        raise SignInRefused("This browser has no session: reload the page (and allow cookies for this site).")
    failures = db.query(
        "SELECT failed_at FROM sign_in_failures WHERE username = ? AND failed_at > ? ORDER BY failed_at",
        (username, iso(now - LOCKOUT)),
    )
    if len(failures) >= MAX_FAILURES:
        until = datetime.fromisoformat(failures[-MAX_FAILURES]["failed_at"]) + LOCKOUT
        minutes = max(1, round((until - now).total_seconds() / 60))
        raise SignInRefused(f"Too many wrong passwords for {username}. Try again in {minutes} min.")
    actor = check_password(db, username, password)
    if actor is None:
        db.execute("INSERT INTO sign_in_failures (username, failed_at) VALUES (?, ?)", (username, iso(now)))
        raise SignInRefused("Wrong username or password.")
    with db.transaction() as tx:
        tx.execute("DELETE FROM sign_in_failures WHERE username = ?", (username,))
        tx.execute(
            "UPDATE sessions SET username = ?, role = ?, signed_in = 1, last_seen_at = ? WHERE token_hash = ?",
            (actor.name, actor.role, iso(now), secret_hash(token)),
        )
    return Actor(actor.name, actor.role, signed_in=True)


def sign_out(db: Database, token: str | None) -> None:
    """Revoke this browser's session: every tab of it is signed out on its next run."""
    if token:
        db.execute("UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
                   (utcnow(), secret_hash(token)))


def revoke_all(db: Database, username: str) -> int:
    """Sign an account out everywhere (a lost laptop, a changed password); returns how many sessions ended."""
    return db.execute(
        "UPDATE sessions SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
        (utcnow(), username.strip().lower()),
    )
