"""Accounts: the `accounts` table (who may sign in, their role, groups and addresses) and `demo_seeded` (which
demo accounts were created once, so one removed later stays removed).

Rows come back as the table has them (groups as stored, comma-separated): turning them into `Account` and
`Actor` values, and every check of a name, role or password, is approvals.identity.accounts' job.
"""

from __future__ import annotations

from collections.abc import Mapping

from approvals.store.database import Queries, Row

PROFILE = "username, role, groups, email, slack_id"
"""The columns an account is read with; the password hash is read only to check a password."""


def _marks(names: list[str]) -> str:
    return ", ".join("?" * len(names))


def any_account_except(q: Queries, names: list[str]) -> bool:
    """Whether some account exists that is not one of `names`."""
    return bool(q.query(f"SELECT 1 AS found FROM accounts WHERE username NOT IN ({_marks(names)}) LIMIT 1", names))


def any_account_among(q: Queries, names: list[str]) -> bool:
    return bool(q.query(f"SELECT 1 AS found FROM accounts WHERE username IN ({_marks(names)}) LIMIT 1", names))


def demo_seeded(q: Queries) -> bool:
    """Whether the demo accounts were seeded once in this database."""
    return bool(q.query("SELECT 1 AS found FROM demo_seeded LIMIT 1"))


def mark_demo_seeded(q: Queries, username: str, at: str) -> None:
    q.execute("INSERT INTO demo_seeded (username, seeded_at) VALUES (?, ?) ON CONFLICT (username) DO NOTHING",
              (username, at))


def insert_account(q: Queries, username: str, role: str, password_hash: str, groups: str, email: str = "",
                   slack_id: str = "") -> bool:
    """A new account; False (and nothing written) when the username is taken."""
    return bool(q.execute(
        "INSERT INTO accounts (username, role, password_hash, groups, email, slack_id) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (username) DO NOTHING", (username, role, password_hash, groups, email, slack_id)))


def credentials(q: Queries, username: str) -> Row | None:
    """Role, password hash and groups of an account, for checking a password."""
    rows = q.query("SELECT role, password_hash, groups FROM accounts WHERE username = ?", (username,))
    return rows[0] if rows else None


def find_account(q: Queries, username: str) -> Row | None:
    rows = q.query(f"SELECT {PROFILE} FROM accounts WHERE username = ?", (username,))
    return rows[0] if rows else None


def all_accounts(q: Queries) -> list[Row]:
    return q.query(f"SELECT {PROFILE} FROM accounts ORDER BY username")


def reviewer_accounts(q: Queries) -> list[Row]:
    return q.query(f"SELECT {PROFILE} FROM accounts WHERE role = 'reviewer' ORDER BY username")


def update_account(q: Queries, username: str, changes: Mapping[str, str]) -> bool:
    """Set the given columns (names from approvals.identity.accounts, never from input); False for no account."""
    assignments = ", ".join(f"{column} = ?" for column in changes)
    return bool(q.execute(f"UPDATE accounts SET {assignments} WHERE username = ?", (*changes.values(), username)))


def delete_account(q: Queries, username: str) -> bool:
    return bool(q.execute("DELETE FROM accounts WHERE username = ?", (username,)))
