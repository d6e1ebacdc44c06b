"""Purging what identity leaves behind: ended sessions, dead API tokens, old sign-in failures and hand-offs, and
email action links long expired.

Without it every cookie-less page load adds a row that nothing deletes. The purge is the scheduler's
"identity-purge" job: its lease lets one replica per period do it.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from approvals.identity import throttle
from approvals.identity.api_tokens import DEFAULT_TOKEN_DAYS
from approvals.identity.sessions import HANDOFF_TTL, idle_hours
from approvals.store.database import Database, iso

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
