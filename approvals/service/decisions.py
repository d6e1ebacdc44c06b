"""The one decision command: every way in (the review pane, bulk, the Conversation page, withdraw, the JSON API,
policy auto-decisions, escalation and expiry, and any channel to come) decides through `_record`, and nothing
else writes a decision, counts an approval or resumes a graph with one.

In one transaction it checks visibility, the claim, the stop switch, the policy verdict, the request digest and
the answer's schema; records with the compare-and-set; appends the audit entry; and queues its delivery as a run
row, which a runner on any replica carries out. Pages, routes and jobs call it and re-check nothing themselves.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from approvals.core.actors import Actor, policy_actor
from approvals.core.decisions import (
    CheckedDecision,
    check_decider,
    check_policy,
    checked_decision,
    clearance,
    edited_actions,
    review_verdict,
)
from approvals.core.errors import (
    AlreadyDecided,
    ApprovalError,
    AwaitingApprovals,
    NotAllowed,
    NotPending,
    RequestChanged,
    approvals_progress,
)
from approvals.core.hitl import HITLRequest, InvalidDecision, withdrawal_message
from approvals.core.policy import Verdict
from approvals.core.reading import check_read
from approvals.core.records import BulkResult, DecisionRecord, PendingApproval, QueueItem
from approvals.core.runs import Run
from approvals.notify import webhooks
from approvals.service import claims, delivery, escalation, oversight, run_rows, tally
from approvals.service.delivery import ByPolicy, DeliveryService
from approvals.service.index import decision_record
from approvals.service.policy import reevaluate
from approvals.store import drafts
from approvals.store.database import Row, Transaction, utcnow
from approvals.store.decisions import find_decision, insert_decision, undelivered
from approvals.store.queue_index import mark_decided, open_item
from approvals.store.runs import insert_run
from approvals.store.tally import item_approvals
from graphs.tools import ARGS_MODELS

log = logging.getLogger(__name__)
APPROVALS = frozenset({"approve", "edit", "accept"})
"""Decisions a multi-approver item counts (each approver's own row) until enough distinct reviewers gave one."""
CHECKED_KEEP = 256
"""How many just-checked approvals this replica keeps for the runner that delivers them (one checkpoint read)."""


class DecisionService(DeliveryService):
    """Decisions: checked against the interrupt and the policy, recorded once, delivered once."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._checked: OrderedDict[str, PendingApproval] = OrderedDict()
        """decision_id → the approval the command checked it against: its run delivers without reading it again."""

    # -- the ways in ---------------------------------------------------------------------------------------

    def decide(self, thread_id: str, interrupt_id: str, response: Any, actor: Actor,
               request_digest: str | None = None, *, shown_at: str | None = None) -> DecisionRecord:
        """The decision command, then its run carried out here and now (the JSON API, channels, scripts): the answer
        says whether the agent got it. `request_digest`: the digest of the request the decider was shown;
        `shown_at`: when the decider's screen drew it (a decision too soon after is refused, TooSoon)."""
        row, pending, run = self._record(thread_id, interrupt_id, lambda request: response, actor, request_digest,
                                         shown_at, deliver_now=True)
        if run is None:  # another decision of the thread is being delivered: its run hands the thread to this one
            return decision_record(row)
        record, by_policy = self._deliver(row, pending)
        self.decide_by_policy(by_policy)
        return record

    def record_decision(self, thread_id: str, interrupt_id: str, response: Any, actor: Actor,
                        request_digest: str | None = None, *, shown_at: str | None = None) -> DecisionRecord:
        """The decision command: recorded with its run queued (the runner delivers it), so a page answers at once.

        Raises AlreadyDecided (someone was first), NotPending, NotAllowed, Claimed (someone else holds the item),
        RequestChanged (the request is not the one whose `request_digest` the decider saw), TooSoon (made less than
        READ_SECONDS after `shown_at`, when the decider's screen drew it), Paused or InvalidDecision; in every case
        nothing is saved.
        """
        row, _, _ = self._record(thread_id, interrupt_id, lambda request: response, actor, request_digest, shown_at)
        return decision_record(row)

    def decide_many(self, items: Iterable[QueueItem], response_factory: Callable[[HITLRequest], Any],
                    actor: Actor) -> BulkResult:
        """The decision command once per item, each bound to the digest the queue showed. A refused or stale item
        (claimed by someone else, changed, decided) is reported rather than raised, so it does not stop the rest."""
        decided: list[DecisionRecord] = []
        failed: list[tuple[QueueItem, str]] = []
        for item in items:
            try:
                row, _, _ = self._record(item.thread_id, item.interrupt_id, _for_requests(response_factory), actor,
                                         item.request_digest or None)
                decided.append(decision_record(row))
            except (ApprovalError, InvalidDecision) as error:
                failed.append((item, str(error)))
        return BulkResult(decided, failed)

    def withdraw(self, thread_id: str, interrupt_id: str, actor: Actor) -> DecisionRecord:
        """The requester takes back their own pending request: recorded as "withdraw", and the agent is told the
        requester withdrew it (a reject no reviewer made; it must not wait for an answer nobody will give)."""
        row, _, _ = self._record(thread_id, interrupt_id, _withdrawal(actor), actor, withdrawal=True)
        return decision_record(row)

    def decide_by_policy(self, items: ByPolicy) -> None:
        """Decide each (thread_id, interrupt_id) as `policy:<rule>` and deliver it here: `approve` approves every
        action, `deny` rejects with the rule's message. One that cannot be decided so (a reviewer was first, no
        reject allowed) stays."""
        for thread_id, interrupt_id, verdict in items:
            try:
                row, pending, run = self._record(thread_id, interrupt_id, _by_policy(verdict),
                                                 policy_actor(verdict.rule), deliver_now=True)
            except (ApprovalError, InvalidDecision) as error:
                log.warning("policy rule %r could not decide %s/%s: %s", verdict.rule, thread_id, interrupt_id, error)
                continue
            if run is not None:
                self.decide_by_policy(self._deliver(row, pending)[1])

    def deliver_decision(self, decision_id: str) -> DecisionRecord:
        """Deliver a recorded decision (its run, recovery, a retry); safe to repeat."""
        row = find_decision(self.db, decision_id)
        if row is None:
            raise ApprovalError(f"No decision {decision_id!r}.")
        if row["applied_at"]:
            return decision_record(row)
        record, by_policy = self._deliver(row, self._checked.pop(decision_id, None))
        self.decide_by_policy(by_policy)
        return record

    def recover(self) -> int:
        """On start: deliver every decision recorded but never applied (the process died in between, or a
        delivery failed); returns how many were tried."""
        unapplied = undelivered(self.db)
        for decision_id in unapplied:
            if delivery.take_lease(self.db, decision_id, force=True):
                self.deliver_decision(decision_id)
        return len(unapplied)

    def deliver_due(self) -> int:
        """Retry the undelivered decisions that are due (the recovery loop); one replica takes each, by lease."""
        tried = 0
        for decision_id in delivery.due(self.db):
            if delivery.take_lease(self.db, decision_id):
                self.deliver_decision(decision_id)
                tried += 1
        return tried

    # -- the command ---------------------------------------------------------------------------------------

    def _record(self, thread_id: str, interrupt_id: str, response_for: Callable[[HITLRequest | None], Any],
                actor: Actor, request_digest: str | None = None, shown_at: str | None = None, *,
                withdrawal: bool = False, deliver_now: bool = False) -> tuple[Row, PendingApproval, Run | None]:
        """The decision command. Checks, in order: that the item was on screen long enough to be read (`shown_at`),
        visibility (and that the item is still open), the request digest,
        that the app can resume it, the answer's schema and the policy; then, in one transaction, the claim, the
        stop switch, the compare-and-set, the audit entry and the run that delivers it.

        Returns the decision row, the approval it was checked against, and its run: queued and handed to this
        replica's runner, or (`deliver_now`) running, for the caller to deliver at once. The run is None when the
        thread's previous decision is still being delivered; that run hands the thread over when it ends.
        """
        if shown_at is not None:
            check_read(shown_at, datetime.now(UTC))
        pending = self.approval(thread_id, interrupt_id, viewer=actor)
        if withdrawal and (pending.request is None or pending.review.requested_by != actor.name):
            raise NotAllowed("Only the person who asked can withdraw a request.")
        if request_digest is not None and request_digest != pending.review.digest:
            raise RequestChanged("The request changed since you opened it; look at it again before deciding.")
        self.resumable(pending)  # an unregistered graph, an unknown deployment: refused before anything is saved
        decision = checked_decision(pending.review, response_for(pending.request), ARGS_MODELS)
        verdict = self._verdict(pending, decision, self._tally(pending))
        if withdrawal:
            decision = replace(decision, name="withdraw")
            granted = clearance(pending.review, actor)
        else:
            granted = check_policy(pending.review, decision, actor, verdict)
        row, run = self._insert_decision(pending, decision, actor, granted, verdict, held_off=not withdrawal,
                                         deliver_now=deliver_now)
        if run is not None and not deliver_now:
            self._keep_checked(row["decision_id"], pending)
            self._start(run)
        return row, pending, run

    def _insert_decision(self, pending: PendingApproval, decision: CheckedDecision, actor: Actor, granted: str,
                         verdict: Verdict, *, held_off: bool, deliver_now: bool) -> tuple[Row, Run | None]:
        """The transaction: a counted approval of a multi-approver item inserts the decision only when it is the
        last one required (AwaitingApprovals otherwise, with the approval saved). Locks in one order everywhere:
        the thread's index lock, the item's approvals, then the audit chain."""
        review = pending.review
        counted = actor.role != "system" and verdict.approvers > 1 and bool(decision.types & APPROVALS)
        row = {
            "decision_id": uuid.uuid4().hex,
            "thread_id": pending.thread_id,
            "interrupt_id": pending.interrupt_id,
            "decision": decision.name,
            "response": json.dumps(decision.resume),
            "tool": review.tool,
            "requested_by": review.requested_by,
            "requested_at": review.created_at,
            "decided_by": actor.name,
            "decided_at": utcnow(),
            "edit_diff": json.dumps(decision.edit_diff),
            "message": decision.message,
            "clearance": granted,
            "next_delivery_at": delivery.later(delivery.DELIVERY_LEASE_S),  # its run delivers it
            "rule": verdict.rule,
            "policy_version": verdict.version,
        }
        run_row = run_rows.new_row(pending.thread_id, "decision", review.requested_by, self.replica,
                                   self._creation_time(), decision_id=row["decision_id"],
                                   state="running" if deliver_now else "queued",
                                   lease_seconds=delivery.DELIVERY_LEASE_S if deliver_now else None)
        waiting: tuple[str, ...] = ()
        queued = False
        try:
            with self.db.transaction() as tx:
                self._lock_thread(tx, pending.thread_id)
                if held_off and actor.role != "system":
                    claims.refuse_unless_holder(tx, pending.thread_id, pending.interrupt_id, actor)
                oversight.refuse_if_paused(tx, pending, decision)
                if counted:
                    so_far = tally.add(tx, pending.thread_id, pending.interrupt_id, decision, actor, verdict)
                    if len(so_far.approved_by) < verdict.approvers:
                        webhooks.enqueue_progress(tx, row, review.summary(),
                                                  approvals_progress(so_far.approved_by, verdict.approvers))
                        waiting = so_far.approved_by
                        oversight.chain_approval(tx, row, pending, actor, waiting, verdict.approvers)
                    else:
                        row.update(decision=so_far.decision, response=so_far.response, edit_diff=so_far.edit_diff)
                if not waiting:
                    queued = self._write_decision(tx, row, pending, actor, run_row)
                drafts.drop_decided(tx, pending.thread_id, pending.interrupt_id, actor.name, resolved=not waiting)
        except _Lost:
            winner = self._decision(pending.thread_id, pending.interrupt_id)
            if winner is None:  # decisions are never deleted, so the row that won the conflict is there to read
                raise ApprovalError("The decision could not be recorded; try again.") from None
            raise AlreadyDecided(winner.decided_by, winner.decided_at, winner.decision) from None
        if waiting:
            raise AwaitingApprovals(waiting, verdict.approvers)
        recorded = {**row, "applied_at": None, "delivery_error": "", "delivery_attempts": 0}
        return recorded, run_rows.run_of(run_row) if queued else None

    @staticmethod
    def _write_decision(tx: Transaction, row: Row, pending: PendingApproval, actor: Actor, run_row: Row) -> bool:
        """The compare-and-set, the index row, the run (False: the thread's previous decision still holds it), and
        the audit entry last (the chain's lock is held until commit)."""
        if not insert_decision(tx, row):
            raise _Lost()  # someone was first: nothing of ours is saved
        mark_decided(tx, row["thread_id"], row["interrupt_id"])
        queued = insert_run(tx, run_row)
        oversight.chain_decision(tx, row, pending, actor)
        return queued

    def _keep_checked(self, decision_id: str, pending: PendingApproval) -> None:
        self._checked[decision_id] = pending
        while len(self._checked) > CHECKED_KEEP:
            self._checked.popitem(last=False)

    # -- the policy's part -----------------------------------------------------------------------------------

    def approval_state(self, pending: PendingApproval) -> tuple[Verdict, tuple[str, ...]]:
        """Who may decide the item under the policy in force, and who approved it so far (multi-approver items)."""
        so_far = self._tally(pending)
        return self._verdict(pending, None, so_far), so_far.approved_by if so_far else ()

    def approved_so_far(self, pending: PendingApproval) -> Any:
        """The resume value the approvals of a multi-approver item agree on so far (None before the first): an MCP
        answer's next approver starts from it, since only the same answer counts."""
        so_far = self._tally(pending)
        return json.loads(so_far.response) if so_far else None

    def _tally(self, pending: PendingApproval) -> tally.Tally | None:
        return tally.current(item_approvals(self.db, pending.thread_id, pending.interrupt_id))

    def _verdict(self, pending: PendingApproval, decision: CheckedDecision | None,
                 so_far: tally.Tally | None) -> Verdict:
        """The rules on the proposed call, on this decision's edits and on an edit earlier approvers approved."""
        review = pending.review
        edited = edited_actions(review, decision.resume) if decision else []
        if so_far is not None and (decision is None or decision.name == "approve"):
            edited += edited_actions(review, json.loads(so_far.response))
        verdict = review_verdict(self.policy.current(), review, pending.graph, edited)
        return escalation.reassigned(self.db, pending.thread_id, pending.interrupt_id, verdict)

    def sync_index(self, thread_id: str) -> None:
        """The queue's `sync_index`, then the new items the policy approves or denies itself are decided."""
        self.decide_by_policy(self._index_thread(thread_id))

    def follow_policy(self) -> int:
        """Once per new policy version: the queue re-evaluated under it, and what it now approves or denies itself
        decided. Returns how many items the policy decided."""
        policy = self.policy.current()
        if policy.version == self._followed_version:
            return 0
        self._followed_version = policy.version
        by_policy = reevaluate(self.db, policy)
        self.decide_by_policy(by_policy)
        return len(by_policy)

    # -- claims: only those who may decide hold one ---------------------------------------------------------

    def claim(self, thread_id: str, interrupt_id: str, actor: Actor, *, take_over: bool = False) -> claims.Claim:
        """Hold the item while `actor` has it open (renewed by the pane's heartbeat). Refused (NotAllowed,
        NotInGroup) to anyone who cannot decide it, e.g. its requester when it needs a reviewer; Claimed when
        someone else holds it and `take_over` is False. A take-over is chained in the audit log."""
        requester, verdict = self._indexed_verdict(self.require_thread(thread_id, viewer=actor), interrupt_id)
        check_decider(requester, actor, verdict)
        return claims.claim(self.db, thread_id, interrupt_id, actor, take_over=take_over,
                            minutes=claims.TAB_CLAIM_MINUTES)

    def release_claim(self, thread_id: str, interrupt_id: str, actor: Actor) -> None:
        """Let go of the actor's own claim (closing or deciding the item); someone else's stays."""
        claims.release(self.db, thread_id, interrupt_id, actor)

    def claim_holder(self, thread_id: str, interrupt_id: str) -> claims.Claim | None:
        return claims.holder(self.db, thread_id, interrupt_id)

    def active_claims(self) -> dict[tuple[str, str], claims.Claim]:
        """Every live claim, for a queue page's "Claimed by" column."""
        return claims.active_claims(self.db)

    def _indexed_verdict(self, thread_id: str, interrupt_id: str) -> tuple[str, Verdict]:
        """The item's requester and the policy's verdict on what it asks, from its index row (no checkpoint read:
        the pane renews its claim every few seconds)."""
        row = open_item(self.db, thread_id, interrupt_id)
        if row is None:
            raise NotPending("This approval is no longer pending.")
        actions = [(tool, args) for tool, args in json.loads(row["actions"] or "[]")] or [(row["tool"], {})]
        verdict = self.policy.current().verdict(actions, row["graph"], row["requester"])
        return row["requester"], escalation.reassigned(self.db, thread_id, interrupt_id, verdict)


class _Lost(Exception):
    """The compare-and-set found a decision already there (raised inside the transaction, to roll it back)."""


def _by_policy(verdict: Verdict) -> Callable[[HITLRequest | None], Any]:
    message = verdict.message or f"Denied by the approval policy (rule {verdict.rule!r})."

    def response_for(request: HITLRequest | None) -> Any:
        if request is None:
            raise NotPending("A raw question is answered by people, not by the policy.")
        decision = {"type": "approve"} if verdict.decide == "approve" else {"type": "reject", "message": message}
        return {"decisions": [decision for _ in request.action_requests]}

    return response_for


def _withdrawal(actor: Actor) -> Callable[[HITLRequest | None], Any]:
    """A reject per action that says the requester withdrew it (`_record` checked `actor` is the requester)."""

    def response_for(request: HITLRequest | None) -> Any:
        if request is None:
            raise NotPending("A raw question is answered, not withdrawn.")
        return {"decisions": [{"type": "reject", "message": withdrawal_message(actor.name, action.name)}
                              for action in request.action_requests]}

    return response_for


def _for_requests(response_factory: Callable[[HITLRequest], Any]) -> Callable[[HITLRequest | None], Any]:
    """Bulk decisions fit HITL requests only: a raw interrupt asks its own question and is answered on its own."""

    def response_for(request: HITLRequest | None) -> Any:
        if request is None:
            raise NotPending("This item asks a question, not for an approval; open it and answer it on its own.")
        return response_factory(request)

    return response_for
