"""Claims: one row per item someone holds, who holds it and until when; a row past `expires_at` holds nothing.

Taking a claim is one upsert that only overwrites a row that is the taker's, expired, or being taken over, so
of two reviewers claiming at once exactly one holds the item, on SQLite and PostgreSQL alike. The decision
command reads the row `for_update`, so a take-over and the decision it stops cannot interleave.
"""

from __future__ import annotations

from approvals.store.database import Queries, Row, Transaction


def take(tx: Queries, thread_id: str, interrupt_id: str, claimed_by: str, expires_at: str, now: str,
         take_over: bool) -> Row:
    """Claim (or renew) the item for `claimed_by` unless someone else's claim is live and not `take_over`;
    returns the item's claim row afterwards (the taker's, or the live claim that stopped it)."""
    tx.execute(
        "INSERT INTO claims (thread_id, interrupt_id, claimed_by, expires_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (thread_id, interrupt_id) DO UPDATE"
        " SET claimed_by = excluded.claimed_by, expires_at = excluded.expires_at"
        " WHERE claims.claimed_by = excluded.claimed_by OR claims.expires_at <= ? OR ? = 1",
        (thread_id, interrupt_id, claimed_by, expires_at, now, int(take_over)),
    )
    return tx.query("SELECT * FROM claims WHERE thread_id = ? AND interrupt_id = ?", (thread_id, interrupt_id))[0]


def claim_row_for_update(tx: Transaction, thread_id: str, interrupt_id: str) -> Row | None:
    """The item's claim row, live or expired, locked until the transaction ends (PostgreSQL), so nobody takes it
    over meanwhile."""
    rows = tx.query(f"SELECT * FROM claims WHERE thread_id = ? AND interrupt_id = ?{tx.for_update}",
                    (thread_id, interrupt_id))
    return rows[0] if rows else None


def live_claim(q: Queries, thread_id: str, interrupt_id: str, now: str) -> Row | None:
    """The item's claim row if it is live at `now`."""
    rows = q.query("SELECT * FROM claims WHERE thread_id = ? AND interrupt_id = ? AND expires_at > ?",
                   (thread_id, interrupt_id, now))
    return rows[0] if rows else None


def live_claims(q: Queries, now: str) -> list[Row]:
    """Every claim live at `now`."""
    return q.query("SELECT * FROM claims WHERE expires_at > ?", (now,))


def drop(q: Queries, thread_id: str, interrupt_id: str, claimed_by: str) -> None:
    """Delete the item's claim if `claimed_by` holds it."""
    q.execute("DELETE FROM claims WHERE thread_id = ? AND interrupt_id = ? AND claimed_by = ?",
              (thread_id, interrupt_id, claimed_by))
