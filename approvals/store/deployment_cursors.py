"""Deployment cursors: one `deployments` row per Agent Server deployment, where its last poll got to and how it went.

The cursor lets a poll ask only for threads newer than the last one it indexed; the status and error are what
every replica's console shows, whichever replica polled. One upsert per poll writes both, so they never disagree.
"""

from __future__ import annotations

from approvals.store.database import Queries, Row


def poll_outcomes(q: Queries) -> dict[str, Row]:
    """Each polled deployment's last status, error and checked_at, by name."""
    return {r["name"]: r for r in q.query("SELECT name, status, error, checked_at FROM deployments")}


def cursor(q: Queries, name: str) -> str:
    """Where the deployment's last successful poll got to ("" before the first)."""
    rows = q.query("SELECT cursor FROM deployments WHERE name = ?", (name,))
    return str(rows[0]["cursor"]) if rows else ""


def record_poll(q: Queries, name: str, cursor: str, status: str, error: str, checked_at: str) -> None:
    q.execute(
        "INSERT INTO deployments (name, cursor, status, error, checked_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, status = excluded.status,"
        " error = excluded.error, checked_at = excluded.checked_at", (name, cursor, status, error[:1000], checked_at))
