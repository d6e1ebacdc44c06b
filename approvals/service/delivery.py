"""Delivering recorded decisions to their agents: who delivers which one, and when a failed one is tried again.

A decision is recorded first (the compare-and-set) and delivered after: resumed, then marked applied only once
the checkpoint (or the deployment) shows its interrupt resolved. Until then it stays "decided, not yet
delivered" with the reason. `next_delivery_at` is both the lease of the replica delivering it (set when it is
recorded, taken again by a retry) and, after a failure, when it is due again, so one replica delivers a
decision at a time and a failing one backs off instead of spinning.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from approvals.core.backoff import backoff_seconds
from approvals.core.policy import Verdict
from approvals.core.records import DecisionRecord, PendingApproval
from approvals.core.runs import Run
from approvals.notify import slack, webhooks
from approvals.service import oversight, run_rows
from approvals.service.index import decision_record, open_interrupt, write_index
from approvals.service.queue import QueueService
from approvals.store.database import Database, Lock, Row, Transaction, iso, utcnow
from approvals.store.decisions import (
    delivery_attempts,
    due_for_delivery,
    mark_applied,
    oldest_without_run,
    record_delivery_failure,
    take_delivery_lease,
)
from approvals.store.queue_index import args_summary
from approvals.store.runs import end_decision_runs, insert_run
from approvals.store.threads import touch_thread

DELIVERY_LEASE_S = 60.0
"""How long a replica holds a decision it is delivering before another may try it."""
FIRST_RETRY_S, MAX_RETRY_S = 2.0, 300.0
DELIVERY_SECONDS = 1.0
"""How often the scheduler's "delivery" job looks for decisions due again."""
STILL_PAUSED = "The agent is still paused at this interrupt after the resume, so the decision did not reach it."


def later(seconds: float) -> str:
    return iso(datetime.now(UTC) + timedelta(seconds=seconds))


def due(db: Database, limit: int = 100) -> list[str]:
    """Undelivered decisions whose lease ran out or whose retry is due, oldest first."""
    return due_for_delivery(db, utcnow(), limit)


def take_lease(db: Database, decision_id: str, *, force: bool = False) -> bool:
    """Take the delivery lease with a compare-and-set: True for the one replica that got it.

    `force` (start-up recovery) takes it even while a lease runs: the process that held it is the one restarting.
    """
    return take_delivery_lease(db, decision_id, later(DELIVERY_LEASE_S), None if force else utcnow())


def failed(tx: Transaction, decision_id: str, reason: str) -> tuple[int, str]:
    """Record why a delivery did not take and when to try again; returns (attempts, next try)."""
    attempts = delivery_attempts(tx, decision_id) + 1
    retry_at = later(backoff_seconds(attempts, FIRST_RETRY_S, MAX_RETRY_S))  # 2 s, 4 s, … 5 min
    record_delivery_failure(tx, decision_id, reason, attempts, retry_at)
    return attempts, retry_at


ByPolicy = list[tuple[str, str, Verdict]]
"""Items a delivery brought up that the policy decides itself: (thread_id, interrupt_id, verdict)."""


class DeliveryService(QueueService):
    """Getting a recorded decision to its agent: resume by interrupt id, then mark it applied (and end its run) in
    the commit that writes the thread's new index rows, or keep it unapplied with the reason."""

    def _deliver(self, row: Row, pending: PendingApproval | None = None) -> tuple[DecisionRecord, ByPolicy]:
        """Resume with the decision; when that did not take, keep it unapplied with the reason and a retry time.

        Any error of the agent's is the agent's business: it is recorded for reviewers, never raised at them.
        Returns the decision as it now stands and the new items the policy decides itself (the caller decides them).
        """
        try:
            applied_at, by_policy = self._attempt_delivery(row, pending)
        except Exception as error:  # a user's graph or a server: whatever it raised, the decision stays recorded
            reason = f"{type(error).__name__}: {error}"
        else:
            if applied_at is not None:
                return decision_record({**row, "applied_at": applied_at, "delivery_error": ""}), by_policy
            reason = STILL_PAUSED
        with self.db.transaction() as tx:
            self._lock_thread(tx, row["thread_id"])
            attempts, retry_at = failed(tx, row["decision_id"], reason)
            chained = self._end_decision_run(tx, row, f"The decision is recorded but did not reach the agent: {reason}")
        self._start(chained)
        return decision_record({**row, "applied_at": None, "delivery_error": reason, "delivery_attempts": attempts,
                                "next_delivery_at": retry_at}), []

    def _attempt_delivery(self, row: Row, pending: PendingApproval | None = None) -> tuple[str | None, ByPolicy]:
        """Resume with the decision in `row`; mark it applied only if the checkpoint then shows its interrupt
        resolved. Returns when it was applied (None when the thread still waits on it) and the policy's items.

        `pending` is the approval the decision was checked against (saves reading the checkpoint again).
        """
        thread_id, interrupt_id = row["thread_id"], row["interrupt_id"]
        chained = None
        clearance = row.get("clearance") or ""  # what the decider was cleared for (none before clearances existed)
        with self._exclusive(thread_id, wait=True):
            if pending is None or pending.interrupt_id != interrupt_id:
                snapshot = self._snapshot(thread_id)
                pending = open_interrupt(snapshot, interrupt_id)
                if pending is None and snapshot is not None and not snapshot.interrupts:
                    # killed mid-resume: the decision is in the thread already; finish the steps cut off
                    self.backend(snapshot.deployment).finish_cut(snapshot, clearance)
            if pending is not None:  # compare-and-set done: now the agent, by interrupt id, wherever it lives
                self.backend(pending.deployment).resume(pending, json.loads(row["response"]), clearance)
            # One commit: applied, its run ended, thread list, index. Not synced: a power cut that loses it leaves
            # the decision recorded and unapplied, the state of a process killed just before this commit, which
            # recovery finishes once (the checkpoint has the resume, the ledger the tool call) and marks applied.
            # The decision itself was committed synced before the resume (tests/service/test_faults.py).
            with self._index_writer(thread_id, synced=False) as (tx, snapshot):
                by_policy = write_index(tx, thread_id, snapshot, self.policy.current())
                # the run ended, but not past this interrupt (a wrong graph, a swallowed resume): not applied
                applied = None
                if open_interrupt(snapshot, interrupt_id) is None:
                    applied = self._mark_delivered(tx, row, pending.review.summary() if pending else None)
                    chained = self._end_decision_run(tx, row)
        self._start(chained)
        return applied, by_policy

    def _mark_delivered(self, tx: Transaction, row: Row, summary: str | None) -> str:
        """Applied, the thread touched, "approval.decided" and Slack's update queued: the agent has the decision."""
        now = utcnow()
        if mark_applied(tx, row["decision_id"], now):  # False: another delivery got there first
            touch_thread(tx, row["thread_id"], now)
            if summary is None:  # resumed before (a crash, another client): the index still has what was asked
                summary = args_summary(tx, row["thread_id"], row["interrupt_id"])
            webhooks.enqueue_decided(tx, row, summary)
            slack.enqueue_decided(tx, row)  # its messages show who decided, and lose their buttons
            oversight.chain_delivery(tx, row, now)
        return now

    def _end_decision_run(self, tx: Transaction, row: Row, error: str = "") -> Run | None:
        """The decision's run ends in this commit; a decision of the same thread recorded meanwhile (it found the
        thread busy) gets its run now, so it never waits for recovery. Returns that run, to start after commit."""
        end_decision_runs(tx, row["thread_id"], row["decision_id"], error, utcnow())
        # a decision of the thread recorded while this run held it (several interrupts decided at once)
        if (waiting := oldest_without_run(tx, row["thread_id"])) is None:
            return None
        chained = run_rows.new_row(row["thread_id"], "decision", waiting["requested_by"], self.replica,
                                   self._creation_time(), decision_id=waiting["decision_id"])
        return run_rows.run_of(chained) if insert_run(tx, chained) else None

    @staticmethod
    def _lock_thread(tx: Transaction, thread_id: str) -> None:
        """The thread's index lock, so a decision's run row and the end of the run before it (which hands the
        thread over) cannot interleave (SQLite's write lock already serializes them)."""
        tx.lock(Lock.INDEX, thread_id)

    def _start(self, run: Run | None) -> None:
        """Hand a committed run to this replica's runner; without one it waits for a runner on any replica."""
        if run is not None and self.dispatch is not None:
            self.dispatch(run)
