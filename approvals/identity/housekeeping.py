"""Purging what identity leaves behind: ended sessions, dead API tokens, old sign-in failures and hand-offs, and
email action links long expired.

Without it every cookie-less page load adds a row that nothing deletes. The purge runs on a schedule in every
replica, but a compare-and-set on the job's row in `housekeeping` lets one replica per period do it (the same
statement is atomic on SQLite and PostgreSQL, so no advisory lock is needed).
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime, timedelta

from approvals.identity import throttle
from approvals.identity.api_tokens import DEFAULT_TOKEN_DAYS
from approvals.identity.sessions import HANDOFF_TTL, idle_hours
from approvals.store.database import Database, iso

log = logging.getLogger(__name__)

JOB = "identity-purge"
DEFAULT_EVERY_MINUTES = 60.0
GRACE = timedelta(days=7)
"""Revoked or expired sessions and tokens stay this long, so "revoked" can still be told apart from "unknown"."""
FAILURES_KEPT = timedelta(days=1)
DEVICES_KEPT = timedelta(days=400)
"""As long as a browser keeps the device cookie."""


def every() -> timedelta:
    """How often one replica purges (env APPROVAL_HOUSEKEEPING_MINUTES, default 60)."""
    return timedelta(minutes=float(os.environ.get("APPROVAL_HOUSEKEEPING_MINUTES") or DEFAULT_EVERY_MINUTES))


def purge(db: Database, now: datetime) -> dict[str, int]:
    """Delete what can no longer be used; returns how many rows went, per table."""
    idle_cutoff, grace_cutoff = iso(now - timedelta(hours=idle_hours())), iso(now - GRACE)
    legacy_cutoff = iso(now - timedelta(days=DEFAULT_TOKEN_DAYS) - GRACE)  # tokens made before expiry existed
    with db.transaction() as tx:
        return {
            "sessions": tx.execute("DELETE FROM sessions WHERE last_seen_at < ? OR revoked_at < ?",
                                   (idle_cutoff, grace_cutoff)),
            "api_tokens": tx.execute("DELETE FROM api_tokens WHERE revoked_at < ? OR expires_at < ?"
                                     " OR (expires_at IS NULL AND created_at < ?)",
                                     (grace_cutoff, grace_cutoff, legacy_cutoff)),
            "sign_in_failures": tx.execute("DELETE FROM sign_in_failures WHERE failed_at < ?",
                                           (iso(now - max(FAILURES_KEPT, throttle.WINDOW)),)),
            "sign_in_handoffs": tx.execute("DELETE FROM sign_in_handoffs WHERE created_at < ?",
                                           (iso(now - HANDOFF_TTL),)),
            "known_devices": tx.execute("DELETE FROM known_devices WHERE last_used_at < ?",
                                        (iso(now - DEVICES_KEPT),)),
            "action_links": tx.execute("DELETE FROM action_links WHERE expires_at < ?", (grace_cutoff,)),
        }


def claim(db: Database, job: str, period: timedelta, now: datetime) -> bool:
    """True for the one caller that moves the job's last run to `now` once `period` has passed since it."""
    db.execute("INSERT INTO housekeeping (job, ran_at) VALUES (?, ?) ON CONFLICT (job) DO NOTHING",
               (job, iso(datetime(2000, 1, 1, tzinfo=UTC))))
    return db.execute("UPDATE housekeeping SET ran_at = ? WHERE job = ? AND ran_at <= ?",
                      (iso(now), job, iso(now - period))) == 1


def run_if_due(db: Database, now: datetime | None = None) -> dict[str, int] | None:
    """Purge when this replica wins the period's claim; None when another one has done it already."""
    now = now or datetime.now(UTC)
    return purge(db, now) if claim(db, JOB, every(), now) else None


class HousekeepingLoop:
    """A daemon thread that tries `run_if_due` every few minutes until `stop()`."""

    def __init__(self, db: Database, interval: float = 300.0):
        self._db, self._interval = db, interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="identity-housekeeping", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                if (purged := run_if_due(self._db)) is not None:
                    log.info("housekeeping purged %s", purged)
            except Exception:  # the database may be briefly unreachable; the next round tries again
                log.exception("housekeeping failed; retrying")
            if self._stopped.wait(self._interval):
                return

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)
