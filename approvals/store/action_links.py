"""Email action links: the `action_links` table (one row per mailed link: whom it was sent to, the item and
request it is bound to, when it expires and when it was used)."""

from __future__ import annotations

from approvals.store.database import Queries


def purge_links(q: Queries, expired_before: str) -> int:
    """Delete links that expired before `expired_before`."""
    return q.execute("DELETE FROM action_links WHERE expires_at < ?", (expired_before,))
