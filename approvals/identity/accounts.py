"""Who is acting: local accounts with scrypt-hashed passwords, and the roles and groups the approval policy checks.

Accounts are managed with `python -m approvals user add|list|set|remove`; groups are stored comma-separated.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from approvals.core.actors import Actor, Role
from approvals.core.errors import ApprovalError
from approvals.store import accounts as stored
from approvals.store import api_tokens as stored_tokens
from approvals.store import sessions as stored_sessions
from approvals.store.database import Database, utcnow

DEMO_ACCOUNTS: dict[str, tuple[Role, str, str]] = {
    "alice": ("reviewer", "alice-demo", "finance"),
    "bob": ("reviewer", "bob-demo", "support"),
    "carol": ("requester", "carol-demo", ""),
}
ACCOUNT_ROLES = ("requester", "reviewer")
NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8
EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")


class AccountError(ApprovalError):
    """A refused account change; nothing was saved."""


@dataclass(frozen=True)
class Account:
    username: str
    role: Role
    groups: frozenset[str]
    email: str = ""
    """Where email notifications go ("" for none)."""
    slack_id: str = ""
    """The Slack user id (U…) the Slack channel messages and decides as ("" for none)."""

    @property
    def actor(self) -> Actor:
        """Acting as this account now (an email link, a Slack button): role and groups as stored today."""
        return Actor(self.username, self.role, groups=self.groups)


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
    return not stored.any_account_except(db, list(DEMO_ACCOUNTS))


def seed_demo_accounts(db: Database) -> list[str]:
    """Create the README's demo accounts once per database, and remember it: one removed later stays removed.

    Returns the accounts created. A database from a release before this one already had them (seeded then):
    they are marked seeded, and none is created again.
    """
    with db.transaction() as tx:
        if stored.demo_seeded(tx):
            return []
        names = list(DEMO_ACCOUNTS)
        earlier = stored.any_account_among(tx, names)
        now = utcnow()
        for username, (role, password, groups) in DEMO_ACCOUNTS.items():
            if not earlier:
                stored.insert_account(tx, username, role, hash_password(password), groups)
            stored.mark_demo_seeded(tx, username, now)
    return [] if earlier else names


def secret_hash(token: str) -> str:
    """How a random token (session, API) is stored: its SHA-256. A slow hash buys nothing for 32 random bytes."""
    return hashlib.sha256(token.encode()).hexdigest()


_NO_ACCOUNT_HASH = hash_password(secrets.token_urlsafe(16))
"""Checked against when the username does not exist, so a wrong username costs the same scrypt as a wrong password."""


def check_password(db: Database, username: str, password: str) -> Actor | None:
    """The account's actor, or None for an unknown user or a wrong password (callers must not say which)."""
    username = username.strip().lower()
    row = stored.credentials(db, username)
    matches = verify_password(password, row["password_hash"] if row else _NO_ACCOUNT_HASH)
    return Actor(username, row["role"], groups=parse_groups(row["groups"])) if row and matches else None


def parse_groups(raw: object) -> frozenset[str]:
    """Groups from the stored comma-separated text, a CLI argument or an ID-token claim (a list or a string)."""
    if isinstance(raw, str):
        items: list = raw.split(",")
    else:
        items = list(raw) if isinstance(raw, list | tuple | set | frozenset) else []
    return frozenset(str(item).strip() for item in items if str(item).strip())


GROUPS_CLAIM = "APPROVAL_GROUPS_CLAIM"


def groups_from_claims(claims: Mapping[str, Any]) -> frozenset[str]:
    """With st.login, a person's groups are the ID token's claim named by APPROVAL_GROUPS_CLAIM (default "groups"):
    a list, or one comma-separated string. Read at every run from the sign-in, so a change shows at the next one."""
    return parse_groups(claims.get(os.environ.get(GROUPS_CLAIM) or "groups"))


def list_accounts(db: Database) -> list[Account]:
    return [_account(row) for row in stored.all_accounts(db)]


def get_account(db: Database, username: str) -> Account | None:
    row = stored.find_account(db, username.strip().lower())
    return _account(row) if row else None


def reviewers(db: Database) -> list[Account]:
    """Every reviewer account, with its addresses: who channels may tell about a pending item."""
    return [_account(row) for row in stored.reviewer_accounts(db)]


def _account(row: Mapping[str, Any]) -> Account:
    return Account(row["username"], row["role"], parse_groups(row["groups"]), row["email"], row["slack_id"])


def known_groups(db: Database) -> set[str]:
    """Every group some account is in: a policy naming any other group gets a warning."""
    return {group for account in list_accounts(db) for group in account.groups}


def add_account(db: Database, username: str, role: str, password: str, groups: Iterable[str] = (), *,
                email: str = "", slack_id: str = "") -> Account:
    username, role = _checked_name(username), _checked_role(role)
    email, slack_id = checked_email(email), _checked_slack_id(slack_id)
    _check_password(password)
    if not stored.insert_account(db, username, role, hash_password(password), ",".join(sorted(parse_groups(groups))),
                                 email, slack_id):
        raise AccountError(f"There is an account {username!r} already; change it with `user set`.")
    return Account(username, cast(Role, role), parse_groups(groups), email, slack_id)


def set_account(db: Database, username: str, *, role: str | None = None, groups: Iterable[str] | None = None,
                password: str | None = None, email: str | None = None, slack_id: str | None = None) -> Account:
    """Change what is given (role, groups, password, email, Slack id; "" clears an address); the rest stays.
    Takes effect on the account's next request."""
    username = _checked_name(username)
    changes: dict[str, str] = {}
    if role is not None:
        changes["role"] = _checked_role(role)
    if groups is not None:
        changes["groups"] = ",".join(sorted(parse_groups(groups)))
    if email is not None:
        changes["email"] = checked_email(email)
    if slack_id is not None:
        changes["slack_id"] = _checked_slack_id(slack_id)
    if password is not None:
        _check_password(password)
        changes["password_hash"] = hash_password(password)
    if changes and not stored.update_account(db, username, changes):
        raise AccountError(f"There is no account {username!r}.")
    account = get_account(db, username)
    if account is None:
        raise AccountError(f"There is no account {username!r}.")
    return account


def remember_signed_in(db: Database, actor: Actor, email: str) -> None:
    """A person signed in with st.login is kept as an account (no usable password: they sign in only through
    their identity provider), with the email, role and groups of their ID token, so channels can reach them and
    act as them. Written only when something changed since their last sign-in."""
    email = email.strip().lower() if EMAIL.fullmatch(email.strip()) else ""
    groups = ",".join(sorted(actor.groups))
    row = stored.find_account(db, actor.name)
    if row and (row["role"], row["groups"], row["email"]) == (actor.role, groups, email):
        return
    if row:
        stored.update_account(db, actor.name, {"role": actor.role, "groups": groups, "email": email})
        return
    stored.insert_account(db, actor.name, actor.role, _NO_ACCOUNT_HASH, groups, email)


def remove_account(db: Database, username: str) -> None:
    """Delete the account and end its sessions and API tokens with it."""
    username = _checked_name(username)
    with db.transaction() as tx:
        if not stored.delete_account(tx, username):
            raise AccountError(f"There is no account {username!r}.")
        stored_sessions.revoke_sessions_of(tx, username, utcnow())
        stored_tokens.revoke_tokens_of(tx, username, utcnow())


def _checked_name(username: str) -> str:
    name = username.strip().lower()
    if not NAME.fullmatch(name):
        raise AccountError(f"{username!r} is not a valid username (letters, digits, . _ @ -, up to 64).")
    return name


def _checked_role(role: str) -> str:
    if role not in ACCOUNT_ROLES:
        raise AccountError(f"{role!r} is not a role: use {' or '.join(ACCOUNT_ROLES)}.")
    return role


def checked_email(email: str) -> str:
    """An email address as stored (trimmed, "" for none); AccountError for one a mail server would refuse."""
    email = email.strip()
    if email and (len(email) > 254 or not EMAIL.fullmatch(email)):
        raise AccountError(f"{email!r} is not an email address (name@example.com).")
    return email


def _checked_slack_id(slack_id: str) -> str:
    slack_id = slack_id.strip()
    if slack_id and not SLACK_ID.fullmatch(slack_id):
        raise AccountError(f"{slack_id!r} is not a Slack user id (U or W then letters and digits, e.g. U024BE7LH).")
    return slack_id


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"A password needs at least {MIN_PASSWORD} characters.")



def account_actor(db: Database, username: str) -> Actor | None:
    """The actor of an existing account (the CLI acting for a named person), or None when there is none."""
    row = stored.find_account(db, username.strip().lower())
    return Actor(row["username"], row["role"]) if row else None
