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

from approvals.store import action_links
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


class Links:
    """Action links kept in one database and signed with one key: the email channel makes them, the link pages
    (approvals/http/email_links.py) read and use them, and neither holds the database itself."""

    def __init__(self, db: Database, key: bytes):
        self._db, self._key = db, key

    def make(self, username: str, thread_id: str, interrupt_id: str, request_digest: str,
             actions: tuple[Action, ...], hours: float) -> dict[Action, str]:
        """One new link per action, in one transaction: action → token (the rows are stored; the tokens are not)."""
        now = datetime.now(UTC)
        made = {action: ActionLink(secrets.token_urlsafe(16), username, thread_id, interrupt_id, request_digest,
                                   action, iso(now), iso(now + timedelta(hours=hours)), None) for action in actions}
        with self._db.transaction() as tx:
            for link in made.values():
                action_links.insert_link(tx, link.link_id, link.username, link.thread_id, link.interrupt_id,
                                         link.request_digest, link.action, link.created_at, link.expires_at)
        return {action: f"{link.link_id}.{_mac(self._key, link)}" for action, link in made.items()}

    def read(self, token: str) -> ActionLink | None:
        """The link a token names, or None for anything not made by `make` with this key (mistyped, cut, forged)."""
        link_id, _, mac = token.partition(".")
        if not link_id or not mac or len(token) > 200:
            return None
        row = action_links.find_link(self._db, link_id)
        if row is None:
            return None
        link = ActionLink(**row)
        return link if hmac.compare_digest(_mac(self._key, link), mac) else None

    def form_token(self, link: ActionLink) -> str:
        """The token the confirmation page's form carries back: only a page this app drew for this link has it."""
        return hmac.new(self._key, f"form|{link.link_id}".encode(), hashlib.sha256).hexdigest()

    def use(self, link: ActionLink) -> bool:
        """Mark the link used (a compare-and-set): False when it was used already, by a concurrent POST."""
        return action_links.mark_used(self._db, link.link_id, utcnow())

    def release(self, link: ActionLink) -> None:
        """The decision was refused, so nothing changed: the link works again (until it expires)."""
        action_links.mark_unused(self._db, link.link_id)


def _mac(key: bytes, link: ActionLink) -> str:
    bound = "|".join((link.link_id, link.username, link.thread_id, link.interrupt_id, link.request_digest,
                      link.action, link.expires_at))
    return hmac.new(key, bound.encode(), hashlib.sha256).hexdigest()
