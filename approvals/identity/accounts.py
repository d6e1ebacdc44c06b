"""Who is acting: local accounts with scrypt-hashed passwords, and the roles the approval policy checks."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from approvals.core.actors import Actor, Role
from approvals.store.database import Database, utcnow

DEMO_ACCOUNTS: dict[str, tuple[Role, str]] = {
    "alice": ("reviewer", "alice-demo"),
    "bob": ("reviewer", "bob-demo"),
    "carol": ("requester", "carol-demo"),
}


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    _, salt, digest = stored.split("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)).split("$")[2], digest)


DEMO_FLAG = "APPROVAL_DEMO"
_FLAG_VALUES = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def demo_mode(db: Database) -> bool:
    """Whether the demo accounts exist for this app: APPROVAL_DEMO=1/0 says so; unset, only for the offline quick
    start (no DATABASE_URL, and no account but the demo ones), so a real deployment never gets published passwords.
    """
    flag = os.environ.get(DEMO_FLAG, "").strip().lower()
    if flag:
        if flag not in _FLAG_VALUES:
            raise ValueError(f"{DEMO_FLAG} must be 1 or 0, not {flag!r}.")
        return _FLAG_VALUES[flag]
    if os.environ.get("DATABASE_URL"):
        return False
    names = list(DEMO_ACCOUNTS)
    return not db.query(f"SELECT 1 AS found FROM accounts WHERE username NOT IN ({', '.join('?' * len(names))})"
                        " LIMIT 1", names)


def seed_demo_accounts(db: Database) -> list[str]:
    """Create the README's demo accounts once per database, and remember it: one removed later stays removed.

    Returns the accounts created. A database from a release before this one already had them (seeded then):
    they are marked seeded, and none is created again.
    """
    with db.transaction() as tx:
        if tx.query("SELECT 1 AS found FROM demo_seeded LIMIT 1"):
            return []
        names = list(DEMO_ACCOUNTS)
        earlier = tx.query(f"SELECT 1 AS found FROM accounts WHERE username IN ({', '.join('?' * len(names))})"
                           " LIMIT 1", names)
        now = utcnow()
        for username, (role, password) in DEMO_ACCOUNTS.items():
            if not earlier:
                tx.execute("INSERT INTO accounts (username, role, password_hash) VALUES (?, ?, ?)"
                           " ON CONFLICT (username) DO NOTHING", (username, role, hash_password(password)))
            tx.execute("INSERT INTO demo_seeded (username, seeded_at) VALUES (?, ?) ON CONFLICT (username) DO NOTHING",
                       (username, now))
    return [] if earlier else names


def secret_hash(token: str) -> str:
    """How a random token (session, API) is stored: its SHA-256. A slow hash buys nothing for 32 random bytes."""
    return hashlib.sha256(token.encode()).hexdigest()


_NO_ACCOUNT_HASH = hash_password(secrets.token_urlsafe(16))
"""Checked against when the username does not exist, so a wrong username costs the same scrypt as a wrong password."""


def check_password(db: Database, username: str, password: str) -> Actor | None:
    """The account's actor, or None for an unknown user or a wrong password (callers must not say which)."""
    username = username.strip().lower()
    rows = db.query("SELECT role, password_hash FROM accounts WHERE username = ?", (username,))
    matches = verify_password(password, rows[0]["password_hash"] if rows else _NO_ACCOUNT_HASH)
    return Actor(username, rows[0]["role"]) if rows and matches else None



def account_actor(db: Database, username: str) -> Actor | None:
    """The actor of an existing account (the CLI acting for a named person), or None when there is none."""
    rows = db.query("SELECT username, role FROM accounts WHERE username = ?", (username.strip().lower(),))
    return Actor(rows[0]["username"], rows[0]["role"]) if rows else None
