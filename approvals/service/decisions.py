"""Deciding: record with a compare-and-set, then resume the graph by interrupt id, exactly once."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from approvals.core.actors import Actor, policy_actor
from approvals.core.decisions import (
    CheckedDecision,
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
from approvals.core.policy import Verdict
from approvals.core.reading import check_read
from approvals.core.records import BulkResult, DecisionRecord, PendingApproval, QueueItem
from approvals.core.visibility import may_see
from approvals.notify import slack, webhooks
from approvals.service import approvals, claims, delivery, escalation, oversight
from approvals.service.base import DURABILITY
from approvals.service.index import decision_record, open_interrupt, write_index
from approvals.service.policy import reevaluate
from approvals.service.queue import QueueService
from approvals.sources.async_graphs import invoke_graph
from approvals.store.database import Row, Transaction, utcnow
from graphs.hitl import HITLRequest, InvalidDecision
from graphs.nodes import CLEARANCE_KEY

log = logging.getLogger(__name__)
APPROVALS = frozenset({"approve", "edit", "accept"})
"""Decisions a multi-approver item counts (each approver's own row) until enough distinct reviewers gave one."""

class DecisionService(QueueService):
    """Decisions: checked against the interrupt and the policy, recorded once, applied once."""

    # -- decisions ---------------------------------------------------------------------------------------

    def decide(self, thread_id: str, interrupt_id: str, response: Any, actor: Actor,
               request_digest: str | None = None, *, shown_at: str | None = None) -> DecisionRecord:
        """Record the decision (exactly once per interrupt) and resume the graph with it.

        `request_digest`: the digest of the request the decider was shown; another one is refused (RequestChanged).
        `shown_at`: when the decider's screen drew it; a decision too soon after is refused (TooSoon).
        """
        row, pending = self._record(thread_id, interrupt_id, lambda request: response, actor, request_digest,
                                    shown_at)
        return self._deliver(row, pending)

    def record_decision(self, thread_id: str, interrupt_id: str, response: Any, actor: Actor,
                        request_digest: str | None = None, *, shown_at: str | None = None) -> DecisionRecord:
        """Validate and record a decision without resuming: fast, so a page can answer at once.

        Raises AlreadyDecided (someone was first), NotPending, NotAllowed, RequestChanged (the request is not the
        one whose `request_digest` the decider saw), TooSoon (made less than READ_SECONDS after `shown_at`, when
        the decider's screen drew it), Paused or InvalidDecision; in every case nothing is saved.
        """
        row, _ = self._record(thread_id, interrupt_id, lambda request: response, actor, request_digest, shown_at)
        return decision_record(row)

    def decide_many(
        self,
        items: Iterable[QueueItem],
        response_factory: Callable[[HITLRequest], Any],
        actor: Actor,
        *,
        honor_claims: bool = True,
    ) -> BulkResult:
        """Record one decision per item, each through `record_decision`'s checks and compare-and-set.

        A refused or stale item is reported rather than raised, so it does not stop the rest. Items another
        person has claimed are skipped unless `honor_claims` is False (expiry). Resume with `apply_decision`.
        """
        claimed = claims.active_claims(self.db) if honor_claims else {}
        decided: list[DecisionRecord] = []
        failed: list[tuple[QueueItem, str]] = []
        for item in items:
            try:
                claim = claimed.get((item.thread_id, item.interrupt_id))
                if claim is not None and claim.claimed_by != actor.name:
                    raise claims.Claimed(claim)
                row, _ = self._record(item.thread_id, item.interrupt_id, _for_requests(response_factory), actor,
                                      item.request_digest or None)
                decided.append(decision_record(row))
            except (ApprovalError, InvalidDecision) as error:
                failed.append((item, str(error)))
        return BulkResult(decided, failed)

    def _record(self, thread_id: str, interrupt_id: str, response_for: Callable[[HITLRequest | None], Any],
                actor: Actor, request_digest: str | None = None, shown_at: str | None = None
                ) -> tuple[Row, PendingApproval]:
        """Check a decision against the pending interrupt and insert it with the compare-and-set.

        Returns the decision row and the approval it was checked against. Reasons for a refusal are looked up
        only on refusal, so the common path reads the checkpoint and nothing else.
        """
        if shown_at is not None:
            check_read(shown_at, datetime.now(UTC))
        pending = self.approval(thread_id, interrupt_id, viewer=actor)
        if request_digest is not None and request_digest != pending.review.digest:
            raise RequestChanged("The request changed since you opened it; look at it again before deciding.")
        self.resumable(pending)  # an unregistered graph, an unknown deployment: refused before anything is saved
        decision = checked_decision(pending.review, response_for(pending.request))
        verdict = self._verdict(pending, decision, self._tally(pending))
        granted = check_policy(pending.review, decision, actor, verdict)
        return self._insert_decision(pending, decision, actor, granted, verdict), pending

    def approval_state(self, pending: PendingApproval) -> tuple[Verdict, tuple[str, ...]]:
        """Who may decide the item under the policy in force, and who approved it so far (multi-approver items)."""
        tally = self._tally(pending)
        return self._verdict(pending, None, tally), tally.approved_by if tally else ()

    def approved_so_far(self, pending: PendingApproval) -> Any:
        """The resume value the approvals of a multi-approver item agree on so far (None before the first): an MCP
        answer's next approver starts from it, since only the same answer counts."""
        tally = self._tally(pending)
        return json.loads(tally.response) if tally else None

    def _tally(self, pending: PendingApproval) -> approvals.Tally | None:
        return approvals.current(self.db.query("SELECT * FROM approvals WHERE thread_id = ? AND interrupt_id = ?",
                                               (pending.thread_id, pending.interrupt_id)))

    def _verdict(self, pending: PendingApproval, decision: CheckedDecision | None,
                 tally: approvals.Tally | None) -> Verdict:
        """The rules on the proposed call, on this decision's edits and on an edit earlier approvers approved."""
        review = pending.review
        edited = edited_actions(review, decision.resume) if decision else []
        if tally is not None and (decision is None or decision.name == "approve"):
            edited += edited_actions(review, json.loads(tally.response))
        verdict = review_verdict(self.policy.current(), review, pending.graph, edited)
        return escalation.reassigned(self.db, pending.thread_id, pending.interrupt_id, verdict)

    def _insert_decision(self, pending: PendingApproval, decision: CheckedDecision, actor: Actor,
                         granted: str, verdict: Verdict | None = None) -> Row:
        """The compare-and-set; a counted approval of a multi-approver item inserts the decision only when it is
        the last one required (AwaitingApprovals otherwise, with the approval saved)."""
        review = pending.review
        verdict = verdict or self._verdict(pending, decision, self._tally(pending))
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
            "next_delivery_at": delivery.later(delivery.DELIVERY_LEASE_S),  # the recorder delivers it
            "rule": verdict.rule,
            "policy_version": verdict.version,
        }
        waiting: tuple[str, ...] = ()
        try:
            with self.db.transaction() as tx:
                oversight.refuse_if_paused(tx, pending, decision)
                if counted:
                    tally = approvals.add(tx, pending.thread_id, pending.interrupt_id, decision, actor, verdict)
                    if len(tally.approved_by) < verdict.approvers:
                        webhooks.enqueue_progress(tx, row, review.summary(),
                                                  approvals_progress(tally.approved_by, verdict.approvers))
                        waiting = tally.approved_by
                        oversight.chain_approval(tx, row, pending, actor, waiting, verdict.approvers)
                    else:
                        row.update(decision=tally.decision, response=tally.response, edit_diff=tally.edit_diff)
                if not waiting:
                    self._write_decision(tx, row, pending, actor)
        except _Lost:
            winner = self._decision(pending.thread_id, pending.interrupt_id)
            if winner is None:  # decisions are never deleted, so the row that won the conflict is there to read
                raise ApprovalError("The decision could not be recorded; try again.") from None
            raise AlreadyDecided(winner.decided_by, winner.decided_at, winner.decision) from None
        if waiting:
            raise AwaitingApprovals(waiting, verdict.approvers)
        return {**row, "applied_at": None, "delivery_error": "", "delivery_attempts": 0}

    @staticmethod
    def _write_decision(tx: Transaction, row: Row, pending: PendingApproval, actor: Actor) -> None:
        inserted = tx.execute(
            f"INSERT INTO decisions ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
            " ON CONFLICT (thread_id, interrupt_id) DO NOTHING",
            list(row.values()),
        )
        if not inserted:
            raise _Lost()  # someone was first: nothing of ours is saved
        tx.execute(
            "UPDATE pending SET status = 'decided' WHERE thread_id = ? AND interrupt_id = ?",
            (row["thread_id"], row["interrupt_id"]),
        )
        oversight.chain_decision(tx, row, pending, actor)  # last: the chain's lock is held until commit

    def withdraw(self, thread_id: str, interrupt_id: str, actor: Actor) -> DecisionRecord:
        """The requester takes back their own pending request: recorded as "withdraw", and the agent is told with a
        reject saying "Withdrawn by <requester>" (it must not wait for an answer nobody will give). Resume with
        `apply_decision`, as for any decision."""
        pending = self.approval(thread_id, interrupt_id, viewer=actor)
        if pending.request is None or pending.review.requested_by != actor.name:
            raise NotAllowed("Only the person who asked can withdraw a request.")
        self.resumable(pending)
        message = f"Withdrawn by {actor.name}"
        raw = {"decisions": [{"type": "reject", "message": message} for _ in pending.request.action_requests]}
        decision = replace(checked_decision(pending.review, raw), name="withdraw")
        return decision_record(self._insert_decision(pending, decision, actor, clearance(pending.review, actor)))

    def apply_decision(self, decision_id: str) -> DecisionRecord:
        """Deliver a recorded decision; safe to repeat (a crash between record and resume, a retry)."""
        rows = self.db.query("SELECT * FROM decisions WHERE decision_id = ?", (decision_id,))
        if not rows:
            raise ApprovalError(f"No decision {decision_id!r}.")
        return decision_record(rows[0]) if rows[0]["applied_at"] else self._deliver(rows[0])

    def _deliver(self, row: Row, pending: PendingApproval | None = None) -> DecisionRecord:
        """Resume with the decision; when that did not take, keep it unapplied with the reason and a retry time.

        Any error of the agent's is the agent's business: it is recorded for reviewers, never raised at them.
        """
        try:
            applied_at = self._apply(row, pending)
        except Exception as error:  # a user's graph or a server: whatever it raised, the decision stays recorded
            reason = f"{type(error).__name__}: {error}"
        else:
            if applied_at is not None:
                return decision_record({**row, "applied_at": applied_at, "delivery_error": ""})
            reason = delivery.STILL_PAUSED
        attempts, retry_at = delivery.failed(self.db, row["decision_id"], reason)
        return decision_record({**row, "applied_at": None, "delivery_error": reason, "delivery_attempts": attempts,
                                "next_delivery_at": retry_at})

    def _apply(self, row: Row, pending: PendingApproval | None = None) -> str | None:
        """Resume with the decision in `row`; mark it applied only if the checkpoint then shows its interrupt
        resolved. Returns when it was applied, or None when the thread still waits on it.

        `pending` is the approval the decision was just checked against (saves reading the state again).
        """
        thread_id, interrupt_id = row["thread_id"], row["interrupt_id"]
        with self._exclusive(thread_id, wait=True):
            if pending is None or pending.interrupt_id != interrupt_id:
                snapshot = self._snapshot(thread_id)
                pending = open_interrupt(snapshot, interrupt_id)
                if pending is None and snapshot is not None and not snapshot.interrupts and not snapshot.deployment:
                    graph = self.graph_for(snapshot.graph)
                    config = with_clearance(self._run_config(thread_id, snapshot.graph, snapshot.requester), row)
                    if graph.get_state(config).next:
                        # killed mid-resume: the decision is in the checkpoint already; finish the steps cut off
                        invoke_graph(graph, None, config, durability=DURABILITY)
            if pending is not None and pending.deployment:  # compare-and-set done: now the server, by interrupt id
                self.remote(pending.deployment).resume(thread_id, pending.assistant_id, interrupt_id,
                                                       json.loads(row["response"]))
            elif pending is not None:
                config = with_clearance(self._run_config(thread_id, pending.graph, pending.review.requested_by), row)
                resume: Command[str] = Command(resume={interrupt_id: json.loads(row["response"])})
                invoke_graph(self.graph_for(pending.graph), resume, config, durability=DURABILITY)
            with self._index_writer(thread_id) as (tx, snapshot):  # one commit: decision, thread list, index
                by_policy = write_index(tx, thread_id, snapshot, self.policy.current())
                # the run ended, but not past this interrupt (a wrong graph, a swallowed resume): not applied
                summary = pending.review.summary() if pending else None
                applied = None if open_interrupt(snapshot, interrupt_id) is not None \
                    else self._mark_delivered(tx, row, summary)
        self.decide_by_policy(by_policy)
        return applied

    def _mark_delivered(self, tx: Transaction, row: Row, summary: str | None) -> str:
        """Applied, the thread touched, "approval.decided" and Slack's update queued: the agent has the decision."""
        now = utcnow()
        if delivery.delivered(tx, row["decision_id"], now):
            tx.execute("UPDATE threads SET updated_at = ? WHERE thread_id = ?", (now, row["thread_id"]))
            if summary is None:  # resumed before (a crash, another client): the index still has what was asked
                rows = tx.query("SELECT args_summary FROM pending WHERE thread_id = ? AND interrupt_id = ?",
                                (row["thread_id"], row["interrupt_id"]))
                summary = rows[0]["args_summary"] if rows else ""
            webhooks.enqueue_decided(tx, row, summary)
            slack.enqueue_decided(tx, row)  # its messages show who decided, and lose their buttons
            oversight.chain_delivery(tx, row, now)
        return now

    def sync_index(self, thread_id: str) -> None:
        """The queue's `sync_index`, then the new items the policy approves or denies itself are decided."""
        self.decide_by_policy(self._index_thread(thread_id))

    def decide_by_policy(self, items: list[tuple[str, str, Verdict]]) -> None:
        """Decide each (thread_id, interrupt_id) as `policy:<rule>`: `approve` approves every action, `deny` rejects
        with the rule's message. One that cannot be decided so (a reviewer was first, no reject allowed) stays."""
        for thread_id, interrupt_id, verdict in items:
            try:
                row, pending = self._record(thread_id, interrupt_id, _by_policy(verdict), policy_actor(verdict.rule))
                self._deliver(row, pending)
            except (ApprovalError, InvalidDecision) as error:
                log.warning("policy rule %r could not decide %s/%s: %s", verdict.rule, thread_id, interrupt_id, error)

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

    def recover(self) -> int:
        """On start: deliver every decision recorded but never applied (the process died in between, or a
        delivery failed); returns how many were tried."""
        unapplied = self.db.query("SELECT decision_id FROM decisions WHERE applied_at IS NULL ORDER BY decided_at")
        for row in unapplied:
            if delivery.claim(self.db, row["decision_id"], force=True):
                self.apply_decision(row["decision_id"])
        return len(unapplied)

    def deliver_due(self) -> int:
        """Retry the undelivered decisions that are due (the recovery loop); one replica takes each, by lease."""
        tried = 0
        for decision_id in delivery.due(self.db):
            if delivery.claim(self.db, decision_id):
                self.apply_decision(decision_id)
                tried += 1
        return tried

    def decision(self, thread_id: str, interrupt_id: str, *, viewer: Actor) -> DecisionRecord | None:
        """How the approval was decided, if it was; UnknownThread for a conversation `viewer` may not read."""
        return self._decision(self.require_thread(thread_id, viewer=viewer), interrupt_id)

    def item_steps(self, thread_id: str, interrupt_id: str, *, viewer: Actor) -> list[oversight.ItemStep]:
        """Who opened and claimed the item and when (the timeline), for a viewer who may read the conversation."""
        return oversight.item_steps(self.db, self.require_thread(thread_id, viewer=viewer), interrupt_id)

    def undelivered(self, limit: int = 100, *, viewer: Actor) -> list[DecisionRecord]:
        """Decided, not yet delivered: a delivery did not take, or none finished within its lease. Oldest first,
        each with the reason; a decision still being delivered for the first time is not listed."""
        mine, params = ("", ()) if may_see(viewer, None) else (" AND requested_by = ?", (viewer.name,))
        rows = self.db.query(
            "SELECT * FROM decisions WHERE applied_at IS NULL AND (delivery_error <> '' OR next_delivery_at IS NULL"
            f" OR next_delivery_at <= ?){mine} ORDER BY decided_at LIMIT ?", (utcnow(), *params, limit))
        return [decision_record(row) for row in rows]

    def decisions(self, limit: int = 1000, thread_id: str | None = None, *, viewer: Actor) -> list[DecisionRecord]:
        """Newest first: who decided what, when, and how the args were edited; a requester sees their own only."""
        clauses, params = [], []
        if thread_id:
            clauses.append("thread_id = ?")
            params.append(thread_id)
        if not may_see(viewer, None):
            clauses.append("requested_by = ?")
            params.append(viewer.name)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.query(f"SELECT * FROM decisions{where} ORDER BY decided_at DESC LIMIT ?", (*params, limit))
        return [decision_record(row) for row in rows]


def with_clearance(config: RunnableConfig, row: Row) -> RunnableConfig:
    """Tell the graph what the decider was cleared for, so its tools node can refuse to run anything stricter.

    A row recorded before clearances existed has none; the graph then assumes the request's own policy.
    """
    if not row.get("clearance"):
        return config
    configured: RunnableConfig = {**config, "configurable": {**config["configurable"], CLEARANCE_KEY: row["clearance"]}}
    return configured


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


def _for_requests(response_factory: Callable[[HITLRequest], Any]) -> Callable[[HITLRequest | None], Any]:
    """Bulk decisions fit HITL requests only: a raw interrupt asks its own question and is answered on its own."""

    def response_for(request: HITLRequest | None) -> Any:
        if request is None:
            raise NotPending("This item asks a question, not for an approval; open it and answer it on its own.")
        return response_factory(request)

    return response_for
