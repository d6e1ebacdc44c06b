"""Claims: "I am looking at this one" for a few minutes, so two reviewers do not work the same item unknowingly.

A claim expires by itself (expires_at) and only those who may decide the item take one (the service checks).
While it is live, the decision command refuses everyone else's decision on the item, naming the holder; taking
it over is explicit (`take_over=True`, a confirmation in the console) and chained in the audit log, and from then
on the previous holder's decision is refused like anyone's. Decisions by the policy itself (auto-decisions,
expiry) and a requester's withdrawal are not held off. Two decisions racing still meet the compare-and-set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from approvals.core.actors import Actor
from approvals.core.errors import ApprovalError
from approvals.service.oversight import chain_event, record_claim_start, record_open
from approvals.store import audit_log, drafts
from approvals.store import claims as store
from approvals.store.database import Database, Row, Transaction, iso, utcnow

DEFAULT_CLAIM_MINUTES = 5.0
"""A claim taken without a tab behind it (a script, a test); an open pane holds TAB_CLAIM_MINUTES and renews it."""
HEARTBEAT_SECONDS = 5
"""How often an open review pane renews its claim."""
TAKE_OVER = "take_over"
"""The audit entry's type for a take-over: who took the item from whom, and when."""
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

    def __init__(self, claim: Claim, message: str = ""):
        self.claim = claim
        super().__init__(message or f"Claimed by {claim.claimed_by} until {claim.expires_at[11:19]} UTC; only"
                                    f" {claim.claimed_by} can decide it until then.")


class TakenOver(Claimed):
    """The item was taken over from the person trying to decide it."""

    def __init__(self, claim: Claim, taken_at: str):
        super().__init__(claim, f"{claim.claimed_by} took this item over from you at {taken_at[11:19]} UTC; only"
                                f" {claim.claimed_by} can decide it now (claimed until {claim.expires_at[11:19]} UTC).")


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
    expires = now + timedelta(minutes=DEFAULT_CLAIM_MINUTES if minutes is None else minutes)
    with db.transaction() as tx:
        before = store.live_claim(tx, thread_id, interrupt_id, iso(now))
        row = store.take(tx, thread_id, interrupt_id, actor.name, iso(expires), iso(now), take_over)
        if row["claimed_by"] == actor.name:
            record_open(tx, thread_id, interrupt_id, actor)
            record_claim_start(tx, thread_id, interrupt_id, actor, iso(now))
            if before is not None and before["claimed_by"] != actor.name:  # explicit, and on the record
                chain_event(tx, {"type": TAKE_OVER, "thread_id": thread_id, "interrupt_id": interrupt_id,
                                  "decided_by": actor.name, "taken_from": before["claimed_by"], "decided_at": iso(now)})
                drafts.drop_edits_of(tx, thread_id, interrupt_id, before["claimed_by"])  # theirs to decide no more
    held = _claim(row)
    if held.claimed_by != actor.name:
        raise Claimed(held)
    return held


def refuse_unless_holder(tx: Transaction, thread_id: str, interrupt_id: str, actor: Actor) -> None:
    """Inside the decision command's transaction: Claimed (TakenOver for its previous holder) when someone else
    holds a live claim. PostgreSQL locks the claim row, so a take-over and the decision it stops cannot interleave."""
    row = store.claim_row_for_update(tx, thread_id, interrupt_id)
    if row is None or row["expires_at"] <= utcnow() or row["claimed_by"] == actor.name:
        return
    held = _claim(row)
    taken = audit_log.latest_entry(tx, thread_id, interrupt_id, TAKE_OVER)
    entry = json.loads(taken) if taken else {}
    if (entry.get("decided_by"), entry.get("taken_from")) == (held.claimed_by, actor.name):
        raise TakenOver(held, entry["decided_at"])
    raise Claimed(held)


def holder(db: Database, thread_id: str, interrupt_id: str, now: datetime | None = None) -> Claim | None:
    """The live claim on the item, or None when nobody holds it (or the claim has expired)."""
    row = store.live_claim(db, thread_id, interrupt_id, iso(now or datetime.now(UTC)))
    return _claim(row) if row else None


def active_claims(db: Database, now: datetime | None = None) -> dict[tuple[str, str], Claim]:
    """Every live claim keyed by (thread_id, interrupt_id): one query for a whole queue page."""
    rows = store.live_claims(db, iso(now or datetime.now(UTC)))
    return {(row["thread_id"], row["interrupt_id"]): _claim(row) for row in rows}


def release(db: Database, thread_id: str, interrupt_id: str, actor: Actor) -> None:
    """Drop the actor's own claim (closing or deciding the item); someone else's claim is left alone."""
    store.drop(db, thread_id, interrupt_id, actor.name)


def _claim(row: Row) -> Claim:
    return Claim(row["thread_id"], row["interrupt_id"], row["claimed_by"], row["expires_at"])
