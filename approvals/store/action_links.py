"""Email action links: the `action_links` table (one row per mailed link: whom it was sent to, the item and
request it is bound to, when it expires and when it was used).

A row is written when its email is composed and never changes after, except `used_at`: marking a link used is a
compare-and-set (`used_at IS NULL`), so of two POSTs of one link only one decides; a refused decision clears it
again. Whether a row may be trusted is not this module's business: approvals/notify/links.py checks each row it
reads against the HMAC its token carries.
"""

from __future__ import annotations

from approvals.store.database import Queries, Row


def insert_link(tx: Queries, link_id: str, username: str, thread_id: str, interrupt_id: str, request_digest: str,
                action: str, created_at: str, expires_at: str) -> None:
    """One new, unused link."""
    tx.execute(
        "INSERT INTO action_links (link_id, username, thread_id, interrupt_id, request_digest, action,"
        " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (link_id, username, thread_id, interrupt_id, request_digest, action, created_at, expires_at),
    )


def find_link(q: Queries, link_id: str) -> Row | None:
    """The link's row, every column (None: no such link, or purged)."""
    rows = q.query("SELECT * FROM action_links WHERE link_id = ?", (link_id,))
    return rows[0] if rows else None


def mark_used(q: Queries, link_id: str, used_at: str) -> bool:
    """Mark the link used, unless it is already: True for the one caller that did."""
    return bool(q.execute("UPDATE action_links SET used_at = ? WHERE link_id = ? AND used_at IS NULL",
                          (used_at, link_id)))


def mark_unused(q: Queries, link_id: str) -> None:
    """The link works again (its decision was refused, so nothing changed)."""
    q.execute("UPDATE action_links SET used_at = NULL WHERE link_id = ?", (link_id,))


def purge_links(q: Queries, expired_before: str) -> int:
    """Delete links that expired before `expired_before`."""
    return q.execute("DELETE FROM action_links WHERE expires_at < ?", (expired_before,))
