"""Action links that email carries: signed, single-use, bound to one reviewer, one item and its request digest,
and expiring after APPROVAL_LINK_HOURS (24).

A link is `<id>.<HMAC>`: the id names a row holding what the link is bound to, and the HMAC (SHA-256, with a key
kept outside the database) covers the id and every bound field, so neither a guessed id nor an edited row makes a
working link. Opening one decides nothing (mail scanners fetch every link); the page it shows POSTs with a form
token derived from the same key, so another site cannot submit it. The key is APPROVAL_LINK_SECRET, or a file
(APPROVAL_LINK_KEY, default data/link-key) made on first use; replicas must share it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from approvals.store.database import Database, iso, utcnow

Action = Literal["approve", "reject"]
DEFAULT_KEY_PATH = Path("data/link-key")
DEFAULT_HOURS = 24.0


@dataclass(frozen=True)
class ActionLink:
    link_id: str
    username: str
    """The reviewer it was sent to: only they may use it."""
    thread_id: str
    interrupt_id: str
    request_digest: str
    """The request as the email showed it: a changed request refuses the link."""
    action: Action
    created_at: str
    expires_at: str
    used_at: str | None

    def expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= datetime.fromisoformat(self.expires_at)


def link_hours() -> float:
    """APPROVAL_LINK_HOURS (default 24): how long a mailed link works."""
    raw = os.environ.get("APPROVAL_LINK_HOURS", "").strip()
    try:
        hours = float(raw) if raw else DEFAULT_HOURS
    except ValueError:
        raise ValueError(f"APPROVAL_LINK_HOURS must be a number of hours, not {raw!r}.") from None
    if not 0 < hours <= 24 * 366:
        raise ValueError(f"APPROVAL_LINK_HOURS must be more than 0 and at most a year, not {raw!r}.")
    return hours


def signing_key() -> bytes:
    """APPROVAL_LINK_SECRET, else the key file (APPROVAL_LINK_KEY), made on first use readable by the app only."""
    if secret := os.environ.get("APPROVAL_LINK_SECRET"):
        return secret.encode()
    path = Path(os.environ.get("APPROVAL_LINK_KEY") or DEFAULT_KEY_PATH)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return path.read_bytes()
        with os.fdopen(descriptor, "wb") as out:
            out.write(key)
        return key


def make(db: Database, key: bytes, username: str, thread_id: str, interrupt_id: str, request_digest: str,
         actions: tuple[Action, ...], hours: float) -> dict[Action, str]:
    """One new link per action, in one transaction: action → token (the rows are stored; the tokens are not)."""
    now = datetime.now(UTC)
    made = {action: ActionLink(secrets.token_urlsafe(16), username, thread_id, interrupt_id, request_digest, action,
                               iso(now), iso(now + timedelta(hours=hours)), None) for action in actions}
    with db.transaction() as tx:
        for link in made.values():
            tx.execute(
                "INSERT INTO action_links (link_id, username, thread_id, interrupt_id, request_digest, action,"
                " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (link.link_id, link.username, link.thread_id, link.interrupt_id, link.request_digest, link.action,
                 link.created_at, link.expires_at),
            )
    return {action: f"{link.link_id}.{_mac(key, link)}" for action, link in made.items()}


def read(db: Database, key: bytes, token: str) -> ActionLink | None:
    """The link a token names, or None for anything not made by `make` with this key (mistyped, cut, forged)."""
    link_id, _, mac = token.partition(".")
    if not link_id or not mac or len(token) > 200:
        return None
    rows = db.query("SELECT * FROM action_links WHERE link_id = ?", (link_id,))
    if not rows:
        return None
    link = ActionLink(**rows[0])
    return link if hmac.compare_digest(_mac(key, link), mac) else None


def form_token(key: bytes, link: ActionLink) -> str:
    """The token the confirmation page's form carries back: only a page this app drew for this link has it."""
    return hmac.new(key, f"form|{link.link_id}".encode(), hashlib.sha256).hexdigest()


def use(db: Database, link: ActionLink) -> bool:
    """Mark the link used (a compare-and-set): False when it was used already, by a concurrent POST."""
    return bool(db.execute("UPDATE action_links SET used_at = ? WHERE link_id = ? AND used_at IS NULL",
                           (utcnow(), link.link_id)))


def release(db: Database, link: ActionLink) -> None:
    """The decision was refused, so nothing changed: the link works again (until it expires)."""
    db.execute("UPDATE action_links SET used_at = NULL WHERE link_id = ?", (link.link_id,))


def _mac(key: bytes, link: ActionLink) -> str:
    bound = "|".join((link.link_id, link.username, link.thread_id, link.interrupt_id, link.request_digest,
                      link.action, link.expires_at))
    return hmac.new(key, bound.encode(), hashlib.sha256).hexdigest()
