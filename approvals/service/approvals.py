"""Multi-approver items: each approval is its own compare-and-set row; the last required one completes the item.

Rows are UNIQUE per item and approver. An edit starts a new `generation` whose response (the edited call) is
what later approvals approve; approvals of an older generation no longer count, and their approvers may approve
again (their row moves to the new generation, still one row each). The item's rows are counted under a lock
(PostgreSQL: an advisory lock per item; SQLite: the BEGIN IMMEDIATE write lock), so two replicas approving at
once cannot both see "1 of 2" and leave the item waiting forever.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from approvals.core.actors import Actor
from approvals.core.decisions import CheckedDecision
from approvals.core.errors import AlreadyApproved, AlreadyDecided
from approvals.core.policy import Verdict
from approvals.store.database import Row, Transaction, utcnow

APPROVALS_LOCK_CLASS = 0x617071  # PostgreSQL advisory lock class for "counting the approvals of item X"


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


def item_rows(tx: Transaction, thread_id: str, interrupt_id: str) -> list[Row]:
    return tx.query("SELECT * FROM approvals WHERE thread_id = ? AND interrupt_id = ?", (thread_id, interrupt_id))


def add(tx: Transaction, thread_id: str, interrupt_id: str, decision: CheckedDecision, actor: Actor,
        verdict: Verdict) -> Tally:
    """Record `actor`'s approval (an edit starts a new generation) and return the tally that includes it.

    Raises AlreadyDecided when the item was resolved meanwhile, AlreadyApproved when this reviewer's approval
    of the current generation is there already; the caller's transaction then saves nothing.
    """
    if tx.dialect == "postgres":
        key = f"{thread_id}/{interrupt_id}"
        tx.query("SELECT pg_advisory_xact_lock(?, hashtext(?))", (APPROVALS_LOCK_CLASS, key))
    decided = tx.query("SELECT decided_by, decided_at, decision FROM decisions"
                       " WHERE thread_id = ? AND interrupt_id = ?", (thread_id, interrupt_id))
    if decided:
        raise AlreadyDecided(decided[0]["decided_by"], decided[0]["decided_at"], decided[0]["decision"])
    rows = item_rows(tx, thread_id, interrupt_id)
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
    changed = tx.execute(
        "INSERT INTO approvals (thread_id, interrupt_id, approver, generation, decision, response, edit_diff,"
        " approved_at, rule, policy_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (thread_id, interrupt_id, approver) DO UPDATE SET generation = excluded.generation,"
        " decision = excluded.decision, response = excluded.response, edit_diff = excluded.edit_diff,"
        " approved_at = excluded.approved_at, rule = excluded.rule, policy_version = excluded.policy_version"
        " WHERE approvals.generation < excluded.generation",
        (thread_id, interrupt_id, actor.name, generation, *chosen, now, verdict.rule, verdict.version),
    )
    if not changed:
        mine = next(r for r in rows if r["approver"] == actor.name)
        raise AlreadyApproved(actor.name, mine["approved_at"])
    approved_by = (*(before.approved_by if before and not amends else ()), actor.name)
    tx.execute("UPDATE pending SET approved_by = ?, approvers = ? WHERE thread_id = ? AND interrupt_id = ?",
               (",".join(approved_by), verdict.approvers, thread_id, interrupt_id))
    return Tally(generation, approved_by, *chosen)
