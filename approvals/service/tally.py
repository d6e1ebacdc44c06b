"""Multi-approver items: each approval is its own compare-and-set row; the last required one completes the item.

Rows are UNIQUE per item and approver. An edit starts a new `generation` whose response (the edited call) is
what later approvals approve; approvals of an older generation no longer count, and their approvers may approve
again (their row moves to the new generation, still one row each). The item's rows are counted under the item's
`Lock.TALLY` (PostgreSQL: an advisory lock; SQLite: the BEGIN IMMEDIATE write lock), so two replicas approving at
once cannot both see "1 of 2" and leave the item waiting forever.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from approvals.core.actors import Actor
from approvals.core.decisions import CheckedDecision
from approvals.core.errors import AlreadyApproved, AlreadyDecided
from approvals.core.policy import Verdict
from approvals.store.database import Lock, Row, Transaction, utcnow
from approvals.store.decisions import decision_row
from approvals.store.queue_index import record_approvers
from approvals.store.tally import item_approvals, upsert_approval


@dataclass(frozen=True)
class Tally:
    """The current generation of an item's approvals: who approved, and the decision they approved."""

    generation: int
    approved_by: tuple[str, ...]
    decision: str
    response: str
    edit_diff: str


def current(rows: list[Row]) -> Tally | None:
    """The newest generation among an item's approval rows (None: nobody approved yet)."""
    if not rows:
        return None
    generation = max(row["generation"] for row in rows)
    latest = sorted((r for r in rows if r["generation"] == generation), key=lambda r: r["approved_at"])
    return Tally(generation, tuple(r["approver"] for r in latest), latest[0]["decision"], latest[0]["response"],
                 latest[0]["edit_diff"])


def add(tx: Transaction, thread_id: str, interrupt_id: str, decision: CheckedDecision, actor: Actor,
        verdict: Verdict) -> Tally:
    """Record `actor`'s approval (an edit starts a new generation) and return the tally that includes it.

    Raises AlreadyDecided when the item was resolved meanwhile, AlreadyApproved when this reviewer's approval
    of the current generation is there already; the caller's transaction then saves nothing.
    """
    tx.lock(Lock.TALLY, f"{thread_id}/{interrupt_id}")
    if (decided := decision_row(tx, thread_id, interrupt_id)) is not None:
        raise AlreadyDecided(decided["decided_by"], decided["decided_at"], decided["decision"])
    rows = item_approvals(tx, thread_id, interrupt_id)
    before = current(rows)
    # an MCP answer equal to the one approved so far agrees with it; a different one starts over, as an edit does
    agrees = before is not None and (decision.name == "approve" or (
        decision.name == "accept" and json.loads(before.response) == decision.resume))
    amends = not agrees
    generation = (before.generation if before else 0) + (1 if amends else 0)
    if amends or before is None:
        chosen = (decision.name, json.dumps(decision.resume), json.dumps(decision.edit_diff))
    else:
        chosen = (before.decision, before.response, before.edit_diff)
    now = utcnow()
    if not upsert_approval(tx, thread_id, interrupt_id, actor.name, generation, *chosen, now, verdict.rule,
                           verdict.version):
        mine = next(r for r in rows if r["approver"] == actor.name)
        raise AlreadyApproved(actor.name, mine["approved_at"])
    approved_by = (*(before.approved_by if before and not amends else ()), actor.name)
    record_approvers(tx, thread_id, interrupt_id, ",".join(approved_by), verdict.approvers)
    return Tally(generation, approved_by, *chosen)
