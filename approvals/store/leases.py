"""Leases: which replica does a piece of timed work now, and when it is due next. One row per job.

A replica takes a job with one compare-and-set (`due_at <= now`), which is atomic on SQLite and PostgreSQL
alike, so of several replicas looking at once exactly one wins, with no advisory lock. While it works, `due_at`
is the end of its lease (a replica that dies mid-job blocks the job no longer than that); when it is done,
`due_at` becomes the job's next tick. Lease rows are bookkeeping a power cut may lose harmlessly (the job runs
once more), so they are written without waiting for the disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from approvals.store.database import Database, iso

NEVER = iso(datetime(2000, 1, 1, tzinfo=UTC))
"""`due_at` of a job nobody has run yet: due at once."""


@dataclass(frozen=True)
class Lease:
    """A job as the leases table has it: who took it last, when, and when it is due (or free) again."""

    name: str
    holder: str
    taken_at: str
    due_at: str


def take(db: Database, name: str, holder: str, now: datetime, until: datetime) -> bool:
    """Take the job `name` for `holder` until `until` if it is due at `now`; True for the one caller that did."""
    if _taken(db, name, holder, now, until):
        return True
    if db.query("SELECT 1 AS known FROM leases WHERE name = ?", (name,)):
        return False  # another replica holds it, or its next tick has not come
    db.execute_unsynced("INSERT INTO leases (name, holder, taken_at, due_at) VALUES (?, '', ?, ?)"
                        " ON CONFLICT (name) DO NOTHING", (name, NEVER, NEVER))
    return _taken(db, name, holder, now, until)


def _taken(db: Database, name: str, holder: str, now: datetime, until: datetime) -> bool:
    return db.execute_unsynced("UPDATE leases SET holder = ?, taken_at = ?, due_at = ? WHERE name = ? AND due_at <= ?",
                               (holder, iso(now), iso(until), name, iso(now))) == 1


def release(db: Database, name: str, holder: str, due: datetime) -> bool:
    """The holder is done: the job is due again at `due`. False when the lease had run out and someone took it."""
    return db.execute_unsynced("UPDATE leases SET due_at = ? WHERE name = ? AND holder = ?",
                               (iso(due), name, holder)) == 1


def leases(db: Database) -> list[Lease]:
    """Every job's lease, by name (for operators and tests)."""
    return [Lease(**row) for row in db.query("SELECT name, holder, taken_at, due_at FROM leases ORDER BY name")]
