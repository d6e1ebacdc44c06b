"""Claims: "I am looking at this one" for a few minutes, so two reviewers do not work the same item unknowingly.

A claim is advisory and expires by itself (expires_at); it hides the decision buttons from others who open the
item, and taking it over needs a confirmation in the console. Correctness never depends on it: every decision
still goes through the service's compare-and-set, so a stale screen can at worst learn who was first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from approvals.core.actors import Actor
from approvals.core.errors import ApprovalError
from approvals.service.oversight import record_claim_start, record_open
from approvals.store.database import Database, Row, iso

DEFAULT_CLAIM_MINUTES = 5.0
HEARTBEAT_SECONDS = 5
"""How often an open review pane renews its claim."""
TAB_CLAIM_MINUTES = 20 / 60
"""A claim held by an open tab lasts this long after its last heartbeat: a closed tab lets go within ~20 s."""


@dataclass(frozen=True)
class Claim:
    thread_id: str
    interrupt_id: str
    claimed_by: str
    expires_at: str


class Claimed(ApprovalError):
    """Someone else holds an unexpired claim on the item."""

    def __init__(self, claim: Claim):
        self.claim = claim
        super().__init__(f"Claimed by {claim.claimed_by} until {claim.expires_at[11:19]} UTC.")


def claim_minutes() -> float:
    """How long opening an item holds it (env APPROVAL_CLAIM_MINUTES, default 5)."""
    return float(os.environ.get("APPROVAL_CLAIM_MINUTES") or DEFAULT_CLAIM_MINUTES)


def claim(
    db: Database,
    thread_id: str,
    interrupt_id: str,
    actor: Actor,
    *,
    take_over: bool = False,
    minutes: float | None = None,
    now: datetime | None = None,
) -> Claim:
    """Claim (or renew) the item for `actor`; raises Claimed if another's claim is live and `take_over` is False.

    One upsert decides atomically: it only overwrites a row that is ours, expired, or being taken over.
    """
    now = now or datetime.now(UTC)
    expires = now + timedelta(minutes=claim_minutes() if minutes is None else minutes)
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO claims (thread_id, interrupt_id, claimed_by, expires_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (thread_id, interrupt_id) DO UPDATE"
            " SET claimed_by = excluded.claimed_by, expires_at = excluded.expires_at"
            " WHERE claims.claimed_by = excluded.claimed_by OR claims.expires_at <= ? OR ? = 1",
            (thread_id, interrupt_id, actor.name, iso(expires), iso(now), int(take_over)),
        )
        row = tx.query("SELECT * FROM claims WHERE thread_id = ? AND interrupt_id = ?", (thread_id, interrupt_id))[0]
        if row["claimed_by"] == actor.name:
            record_open(tx, thread_id, interrupt_id, actor)
            record_claim_start(tx, thread_id, interrupt_id, actor, iso(now))
    held = _claim(row)
    if held.claimed_by != actor.name:
        raise Claimed(held)
    return held


def holder(db: Database, thread_id: str, interrupt_id: str, now: datetime | None = None) -> Claim | None:
    """The live claim on the item, or None when nobody holds it (or the claim has expired)."""
    rows = db.query(
        "SELECT * FROM claims WHERE thread_id = ? AND interrupt_id = ? AND expires_at > ?",
        (thread_id, interrupt_id, iso(now or datetime.now(UTC))),
    )
    return _claim(rows[0]) if rows else None


def active_claims(db: Database, now: datetime | None = None) -> dict[tuple[str, str], Claim]:
    """Every live claim keyed by (thread_id, interrupt_id): one query for a whole queue page."""
    rows = db.query("SELECT * FROM claims WHERE expires_at > ?", (iso(now or datetime.now(UTC)),))
    return {(row["thread_id"], row["interrupt_id"]): _claim(row) for row in rows}


def release(db: Database, thread_id: str, interrupt_id: str, actor: Actor) -> None:
    """Drop the actor's own claim (closing or deciding the item); someone else's claim is left alone."""
    db.execute(
        "DELETE FROM claims WHERE thread_id = ? AND interrupt_id = ? AND claimed_by = ?",
        (thread_id, interrupt_id, actor.name),
    )



def _claim(row: Row) -> Claim:
    return Claim(row["thread_id"], row["interrupt_id"], row["claimed_by"], row["expires_at"])
