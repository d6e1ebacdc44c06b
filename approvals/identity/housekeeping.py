"""Purging what identity leaves behind: ended sessions, dead API tokens, old sign-in failures and hand-offs,
email action links long expired, and console drafts nobody can come back to.

Without it every cookie-less page load adds a row that nothing deletes. The purge is the scheduler's
"identity-purge" job: its lease lets one replica per period do it.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from approvals.identity import throttle
from approvals.identity.api_tokens import DEFAULT_TOKEN_DAYS
from approvals.identity.sessions import HANDOFF_TTL, idle_hours
from approvals.store import action_links, api_tokens, drafts, sessions
from approvals.store import throttle as stored_throttle
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
            "sessions": sessions.purge_sessions(tx, idle_cutoff, grace_cutoff),
            "api_tokens": api_tokens.purge_tokens(tx, grace_cutoff, legacy_cutoff),
            "sign_in_failures": stored_throttle.purge_failures(tx, iso(now - max(FAILURES_KEPT, throttle.WINDOW))),
            "sign_in_handoffs": sessions.purge_handoffs(tx, iso(now - HANDOFF_TTL)),
            "known_devices": stored_throttle.purge_devices(tx, iso(now - DEVICES_KEPT)),
            "action_links": action_links.purge_links(tx, grace_cutoff),
            "drafts": drafts.purge(tx, idle_cutoff),
        }
