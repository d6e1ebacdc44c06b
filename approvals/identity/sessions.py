"""Browser sessions: who a browser is, across reloads, new tabs and app restarts.

Every browser gets a server-issued session the first time it loads a page: a random token in an HttpOnly,
SameSite=Lax cookie, stored here only as its SHA-256 once the browser runs a page (a bare GET writes nothing).
It starts as a private guest. Signing in never promotes
that token (someone may have planted it): the password check hands out a one-time code, and the browser trades
code and old cookie at HANDOFF_PATH for a new token, the old one dead. Signing out revokes the token; the next
page load brings a new guest. A signed-in session takes its role, and its existence, from the account on every
use. A session ends after `idle_hours()` without use. Sign-in is throttled (approvals.identity.throttle).
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import UTC, datetime, timedelta

from approvals.core.actors import Actor
from approvals.core.errors import ApprovalError
from approvals.identity import throttle
from approvals.identity.accounts import check_password, parse_groups, secret_hash
from approvals.identity.api_tokens import revoke_account_tokens
from approvals.store import accounts as stored_accounts
from approvals.store import sessions as stored
from approvals.store.database import Database, Row, iso, utcnow

COOKIE = "approvals_session"
HANDOFF_PATH = "/auth/session"
HANDOFF_TTL = timedelta(minutes=2)
DEFAULT_IDLE_HOURS = 12.0
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
    stored.insert_session(db, secret_hash(token), actor.name, actor.role, signed_in, utcnow())
    return token


def new_token() -> str:
    """A fresh session token for a browser; no row is written until the browser runs a page (`actor_or_start`)."""
    return secrets.token_urlsafe(32)


TOKEN_FORM = re.compile(r"[A-Za-z0-9_-]{43}")
"""What `new_token` makes: only such a token may start a guest session of its own."""


def start_guest(db: Database, token: str | None = None) -> str:
    """A private guest for a browser without a live session: its own name, seen by nobody else.

    Written without an fsync: a guest lost in a power cut just gets a new one on the next load. A second start of
    the same token (two tabs opening at once) keeps the first.
    """
    token = token or new_token()
    guest = Actor(f"guest-{secrets.token_hex(5)}", "requester")
    stored.insert_guest_session(db, secret_hash(token), guest.name, guest.role, utcnow())
    return token


def needs_new_token(db: Database, token: str | None) -> bool:
    """Whether a page load must set a new cookie: none sent, not one of ours, or its session ended. A token that
    has no row yet (its browser has not run a page) is kept: page loads alone write nothing."""
    if not token or not TOKEN_FORM.fullmatch(token):
        return True
    if not stored.session_exists(db, secret_hash(token)):
        return False
    return _live_row(db, token, datetime.now(UTC)) is None


def actor_or_start(db: Database, token: str | None) -> Actor | None:
    """The session's actor; a token of ours with no row yet becomes a new private guest now, on the first page
    run of its browser (crawlers and bare GETs never get this far). None for an ended session."""
    if (actor := actor_for(db, token)) is not None or token is None or not TOKEN_FORM.fullmatch(token):
        return actor
    if stored.session_exists(db, secret_hash(token)):
        return None  # it ended: signed out, expired, or its account is gone
    start_guest(db, token)
    return actor_for(db, token)


def _live_row(db: Database, token: str | None, now: datetime) -> Row | None:
    """The session with its account's current role; None when it ended or its account is gone."""
    if not token:
        return None
    row = stored.unrevoked_session(db, secret_hash(token), iso(now - timedelta(hours=idle_hours())))
    if row is None or (row["signed_in"] and row["account_role"] is None):
        return None
    return row


def actor_for(db: Database, token: str | None, now: datetime | None = None) -> Actor | None:
    """The live session's actor, or None for a missing, tampered, revoked or expired token. Use keeps it alive."""
    now = now or datetime.now(UTC)
    row = _live_row(db, token, now)
    if row is None:
        return None
    if datetime.fromisoformat(row["last_seen_at"]) < now - TOUCH_EVERY:
        stored.touch_session(db, row["token_hash"], iso(now))
    signed_in = bool(row["signed_in"])
    return Actor(row["username"], row["account_role"] if signed_in else row["role"], signed_in=signed_in,
                 groups=parse_groups(row["groups"]) if signed_in else frozenset())


def begin_sign_in(db: Database, token: str | None, username: str, password: str, *, client: str = "",
                  device: str | None = None, now: datetime | None = None) -> str:
    """Check the password; returns the one-time code this browser trades for a signed-in session.

    Raises SignInRefused with a message to show: wrong credentials (the same for an unknown username), or a
    wait imposed by the throttle.
    """
    now = now or datetime.now(UTC)
    username = username.strip().lower()
    if _live_row(db, token, now) is None or token is None:
        raise SignInRefused("This browser has no session: reload the page (and allow cookies for this site).")
    device_hash = throttle.known_device(db, device, username)
    key = throttle.client_key(client, device_hash)
    try:
        attempt = throttle.reserve(db, username, key, device_hash is not None, now)
    except throttle.Throttled as waiting:
        raise SignInRefused(str(waiting)) from waiting
    if check_password(db, username, password) is None:
        raise SignInRefused("Wrong username or password.")  # the try stays recorded as a failure
    code = secrets.token_urlsafe(32)
    with db.transaction() as tx:
        throttle.release(tx, username, key, attempt)
        stored.insert_handoff(tx, secret_hash(code), secret_hash(token), username, iso(now))
    return code


def finish_sign_in(db: Database, token: str | None, code: str, device: str | None = None,
                   now: datetime | None = None) -> tuple[str, str] | None:
    """Trade a sign-in code (with the cookie that asked for it) for (new session token, device cookie value).

    The old token is revoked in the same transaction. None when the code is unknown, used, stale, or was asked
    for by another browser's session.
    """
    now = now or datetime.now(UTC)
    with db.transaction() as tx:
        handoff = stored.take_handoff(tx, secret_hash(code))  # one use only
        if handoff is None or not token or handoff["from_token_hash"] != secret_hash(token):
            return None
        if datetime.fromisoformat(handoff["created_at"]) < now - HANDOFF_TTL:
            return None
        username = handoff["username"]
        account = stored_accounts.find_account(tx, username)
        if account is None:
            return None
        stored.revoke_session(tx, secret_hash(token), iso(now))
        new_token = secrets.token_urlsafe(32)
        stored.insert_session(tx, secret_hash(new_token), username, account["role"], True, iso(now))
        return new_token, throttle.remember_device(tx, device, username, now)


def sign_out(db: Database, token: str | None) -> None:
    """Revoke this browser's session: every tab of it is signed out on its next run."""
    if token:
        stored.revoke_session(db, secret_hash(token), utcnow())


def revoke_all(db: Database, username: str) -> int:
    """Sign an account out everywhere (a lost laptop, a changed password): its sessions and its API tokens end.

    Returns how many ended.
    """
    username = username.strip().lower()
    ended = stored.revoke_sessions_of(db, username, utcnow())
    return ended + revoke_account_tokens(db, username)
