"""Sign-in throttling that slows guessing without locking anyone out.

A browser that signed in to an account before carries a device token (a long-lived HttpOnly cookie, stored here
hashed): it is judged by its own failures only, so an attacker elsewhere cannot keep the account's owner out.
Every other client waits a growing delay after a few failures, counted per client (its address, believed from a
proxy only when configuration names it: approvals.http.guards) and per account; tries made while waiting are
refused unchecked and not counted, so hammering does not buy more tries. The check and the recording of the try
are one transaction that runs before the password is looked at: parallel tries cannot all slip through, and an
unknown username costs and answers the same.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from approvals.identity.accounts import secret_hash
from approvals.store import throttle as stored
from approvals.store.database import Database, Lock, Transaction, iso

DEVICE_COOKIE = "approvals_device"
FREE_TRIES = 3
FIRST_DELAY = timedelta(seconds=2)
MAX_DELAY = timedelta(minutes=5)
WINDOW = timedelta(hours=1)
UNDER_ATTACK_AT = 10
"""Failures within WINDOW from clients the account does not know after which reviewers see a note."""
MAX_DEVICE_ACCOUNTS = 5


class Throttled(Exception):
    def __init__(self, wait: timedelta):
        self.wait = wait
        seconds = max(1, round(wait.total_seconds()))
        super().__init__(f"Too many failed sign-ins. Try again in {seconds} s"
                         f"{f' (about {round(seconds / 60)} min)' if seconds >= 120 else ''}.")


def delay(failures: int) -> timedelta:
    """How long to wait after `failures` recent failures: none for the first few, then doubling up to MAX_DELAY."""
    if failures < FREE_TRIES:
        return timedelta(0)
    return min(MAX_DELAY, FIRST_DELAY * 2 ** (failures - FREE_TRIES))


def device_tokens(cookie: str | None) -> list[str]:
    return [part for part in (cookie or "").split(".") if part][:MAX_DEVICE_ACCOUNTS]


def known_device(db: Database, cookie: str | None, username: str) -> str | None:
    """The hash of this browser's device token for `username`, if it signed in to that account before."""
    hashes = [secret_hash(token) for token in device_tokens(cookie)]
    if not hashes:
        return None
    return stored.known_device(db, username, hashes)


def client_key(client: str, device_hash: str | None) -> str | None:
    """Whose failures a try is counted with: the known device's own, else the client's address; None when the
    address is unknown (a proxy nobody named, or this host), which is never one bucket shared by every such client:
    the account's own count still applies."""
    if device_hash:
        return f"device:{device_hash}"
    return f"client:{client}" if client else None


def reserve(db: Database, username: str, key: str | None, known: bool, now: datetime) -> str:
    """Check and record a try in one transaction, before its password is looked at.

    Raises Throttled when this client (and, for an unknown device, this account) must wait longer. Otherwise the
    try is recorded as a failure at once, so tries made in parallel count it and are refused unchecked; `release`
    takes it back when the password was right. Returns the recorded time, unique for this username and bucket.
    """
    since, bucket = iso(now - WINDOW), key or ""
    with db.transaction() as tx:
        tx.lock(Lock.SIGN_IN)  # parallel tries are counted one after another
        counts = [stored.client_failures(tx, key, since)] if key else []
        if not known:
            counts.append(stored.unknown_client_failures(tx, username, since))
        for failures in counts:
            if failures and delay(len(failures)):
                wait = datetime.fromisoformat(failures[-1]) + delay(len(failures)) - now
                if wait > timedelta(0):
                    raise Throttled(wait)
        latest = stored.latest_failure(tx, username, bucket)
        at = iso(now) if latest is None or latest < iso(now) else iso(
            datetime.fromisoformat(latest) + timedelta(milliseconds=1))
        stored.insert_failure(tx, username, bucket, at)
    return at


def release(tx: Transaction, username: str, key: str | None, at: str) -> None:
    """Take back the try `reserve` recorded at `at`: its password was right."""
    tx.lock(Lock.SIGN_IN)  # not while `reserve` counts
    stored.delete_failure(tx, username, key or "", at)


def remember_device(tx: Transaction, cookie: str | None, username: str, now: datetime) -> str:
    """The device cookie after a successful sign-in: this browser's tokens, with one for `username` added."""
    tokens = device_tokens(cookie)
    hashes = {secret_hash(token): token for token in tokens}
    if hashes:
        known = stored.known_device(tx, username, list(hashes))
        if known is not None:
            stored.touch_device(tx, known, iso(now))
            return ".".join(tokens)
    token = secrets.token_urlsafe(24)
    stored.insert_device(tx, secret_hash(token), username, iso(now))
    return ".".join([token, *tokens][:MAX_DEVICE_ACCOUNTS])


def accounts_under_attack(db: Database, now: datetime) -> list[tuple[str, int]]:
    """Accounts with many recent failures from clients they do not know: (username, failures), most first."""
    rows = stored.accounts_with_unknown_failures(db, iso(now - WINDOW), UNDER_ATTACK_AT)
    return [(row["username"], int(row["failures"])) for row in rows]
