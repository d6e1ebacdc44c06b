"""What the service adds to the audit chain around decisions, and the stop switch (pause a tool or a graph).

Each function takes the caller's transaction, so the event and its chained entry commit together. Pausing is the
EU AI Act's "stop": a paused tool's or graph's items refuse approval (a reject still goes through) until resumed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from approvals.audit import chain, signing
from approvals.audit.events import decision_event, delivery_event, pause_event
from approvals.core.actors import Actor
from approvals.core.decisions import CheckedDecision
from approvals.core.errors import ApprovalError, NotAllowed
from approvals.core.records import TARGET_KINDS, PendingApproval, TargetKind
from approvals.notify import webhooks
from approvals.store import audit_log, ledger, queue_index, tally
from approvals.store import oversight as store
from approvals.store.database import Database, Row, Transaction, utcnow

DEFAULT_MAX_PAUSES = 20


def max_pauses() -> int:
    """How many tools and graphs may be paused at once (env APPROVAL_MAX_PAUSES, default 20): each is a banner
    above every reviewer's queue, so a stop switch pressed in a loop must not bury the queue."""
    return int(os.environ.get("APPROVAL_MAX_PAUSES") or DEFAULT_MAX_PAUSES)


class TooManyPauses(ApprovalError):
    """The cap on active pauses is reached: nothing is paused until one is resumed."""


class Paused(ApprovalError):
    """The item's tool or graph is paused: only a reject goes through."""


@dataclass(frozen=True)
class PausedTarget:
    kind: TargetKind
    name: str
    paused_by: str
    paused_at: str


# -- the chain around decisions --------------------------------------------------------------------------


def chain_decision(tx: Transaction, row: Row, pending: PendingApproval, actor: Actor) -> None:
    """The decision's entry, with when its decider first opened the item (None: decided without opening it)."""
    chain_event(tx, _decision_event(tx, row, pending, actor))


def chain_approval(tx: Transaction, row: Row, pending: PendingApproval, actor: Actor, approved_by: tuple[str, ...],
                   required: int) -> None:
    """One approval of a multi-approver item that still waits for others: an entry of its own (type "approval",
    not "decision": no decisions row answers for it), saying who has approved so far and how many must."""
    event = _decision_event(tx, row, pending, actor)
    chain_event(tx, {**event, "type": "approval", "approved_by": list(approved_by), "approvers_required": required})


def _decision_event(tx: Transaction, row: Row, pending: PendingApproval, actor: Actor) -> dict[str, Any]:
    """A decision's entry with what other tables say about it in this transaction: when the decider opened the
    item, the arguments History shows, and the decider's approvals row (multi-approver items)."""
    key = (pending.thread_id, pending.interrupt_id)
    shown = queue_index.shown_args(tx, *key)
    return decision_event(row, pending.review, pending.graph, store.first_open(tx, *key, actor.name),
                          json.loads(shown) if shown is not None else None,
                          tally.approval_by(tx, *key, actor.name))


def chain_delivery(tx: Transaction, row: Row, applied_at: str) -> None:
    """The delivery entry: the decision reached the agent, and these tool calls ran (from the ledger)."""
    entry = audit_log.decision_entry(tx, row["decision_id"])
    call_ids = json.loads(entry).get("tool_call_ids") or [] if entry else []
    executed = ledger.executed_calls(tx, call_ids)
    chain_event(tx, delivery_event(row["decision_id"], row["thread_id"], row["interrupt_id"], applied_at, executed))


def chain_event(tx: Transaction, event: dict[str, Any]) -> None:
    """Append `event` to the chain, sign the new head and publish it ("audit.head"), all in the caller's
    transaction: the tip is never unsigned, and a witness outside the database hears of every head."""
    entry = chain.append(tx, event)
    head = signing.sign_tip(tx, entry["seq"], entry["hash"])
    webhooks.enqueue_audit_head(tx, head.seq, head.hash, head.signature, head.public_key)


def record_open(tx: Transaction, thread_id: str, interrupt_id: str, actor: Actor) -> None:
    """When `actor` first opened the item: the oversight metrics measure the time from here to the decision."""
    store.record_open(tx, thread_id, interrupt_id, actor.name, utcnow())


def record_claim_start(tx: Transaction, thread_id: str, interrupt_id: str, actor: Actor, at: str) -> None:
    """When `actor` first took the claim: the claims row is renewed and deleted, this one stays for the timeline."""
    store.record_claim_start(tx, thread_id, interrupt_id, actor.name, at)


@dataclass(frozen=True)
class ItemStep:
    """One reviewer's step on an item before its decision: "opened" or "claimed", by whom, when."""

    step: str
    by: str
    at: str


def item_steps(db: Database, thread_id: str, interrupt_id: str) -> list[ItemStep]:
    """Who opened and who claimed the item, oldest first (the caller has checked the viewer may see it)."""
    return [ItemStep(row["step"], row["who"], row["happened_at"]) for row in store.item_steps(db, thread_id,
                                                                                             interrupt_id)]


def note_open(db: Database, thread_id: str, interrupt_id: str, actor: Actor) -> None:
    """`record_open` in a transaction of its own (an API client reading the item opens it)."""
    with db.transaction() as tx:
        record_open(tx, thread_id, interrupt_id, actor)


# -- the stop switch ---------------------------------------------------------------------------------------


def pause(db: Database, kind: str, name: str, actor: Actor) -> PausedTarget:
    """Stop approvals for a tool or a graph; chained. Pausing what is paused already changes nothing."""
    kind, name = _target(kind, name, actor)
    at = utcnow()
    with db.transaction() as tx:
        store.lock_pauses(tx)  # the count and the insert as one step
        held = store.paused_keys(tx)
        if (kind, name) not in {(row["kind"], row["name"]) for row in held} and len(held) >= max_pauses():
            raise TooManyPauses(f"{len(held)} tools and graphs are paused already, the most at once "
                                f"(APPROVAL_MAX_PAUSES); resume one first.")
        if store.add_pause(tx, kind, name, actor.name, at):
            chain_event(tx, pause_event("pause", kind, name, actor.name, at))
        row = store.pause_of(tx, kind, name)
    return PausedTarget(**row)


def resume(db: Database, kind: str, name: str, actor: Actor) -> bool:
    """Let approvals through again; chained. False when it was not paused."""
    kind, name = _target(kind, name, actor)
    with db.transaction() as tx:
        removed = store.remove_pause(tx, kind, name)
        if removed:
            chain_event(tx, pause_event("resume", kind, name, actor.name, utcnow()))
    return removed


def paused_targets(db: Database) -> list[PausedTarget]:
    return [PausedTarget(**row) for row in store.paused(db)]


def refuse_if_paused(tx: Transaction, pending: PendingApproval, decision: CheckedDecision) -> None:
    """Anything but a reject of a paused tool's or graph's item is refused, saying who paused it and when.

    Read in the decision's own transaction, so an approval cannot slip past a pause committed before it."""
    if decision.types == {"reject"}:
        return
    tools = [a.name for a in pending.request.action_requests] if pending.request else []
    rows = store.pauses_holding(tx, pending.graph, tools)
    if rows:
        held = rows[0]
        raise Paused(f"The {held['kind']} {held['name']} is paused (by {held['paused_by']} at {held['paused_at']}):"
                     " its items can be rejected, not approved, until it is resumed.")


def _target(kind: str, name: str, actor: Actor) -> tuple[TargetKind, str]:
    if not actor.is_reviewer:
        raise NotAllowed("Only a reviewer can pause or resume a tool or a graph.")
    if kind not in TARGET_KINDS:
        raise ApprovalError(f"Pause a tool or a graph, not {kind!r}.")
    if not name.strip() or len(name) > 200 or not name.isprintable():
        raise ApprovalError("Name the tool or graph to pause (printable characters, at most 200).")
    return kind, name.strip()
