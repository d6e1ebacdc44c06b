"""Runs as records: every run of the built-in agent is a row that any replica reads, leases and can take over.

Why rows and not a dict in memory: a reload may land on another replica, which must show "working" and refuse
a second run of the thread (a partial unique index allows one queued or running run per thread), and a run cut
by a crash must be finished by someone. Each replica renews the lease of its own runs; a run whose lease ran out
is taken over by exactly one replica (a compare-and-set on the old owner and lease) and continued from its
checkpoint with `invoke(None, ...)`. Tools never run twice: the ledger answers a re-run tool call from its row.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

from langgraph.pregel import Pregel

from approvals.core.actors import Actor
from approvals.core.errors import ApprovalError, ThreadBusy
from approvals.core.runs import Run, RunKind, RunStatus
from approvals.service import run_rows
from approvals.service.decisions import DecisionService
from approvals.service.index import add_thread_row, write_index
from approvals.service.policy import PolicySource
from approvals.service.run_rows import run_of
from approvals.sources.deployments import Deployment
from approvals.sources.registry import GraphRegistry
from approvals.store.database import Transaction, iso, utcnow
from approvals.store.runs import (
    expired_runs,
    find_run,
    finish_run,
    insert_run,
    latest_run,
    queued_ahead,
    renew_leases,
    start_run,
    take_over_run,
)
from approvals.store.schema import Store

DEFAULT_MAX_RUNS = 32
"""Runs are I/O-bound (a model call is mostly waiting), so one replica works on many at once."""


def max_runs() -> int:
    """APPROVAL_MAX_RUNS, the runs one replica works on at once (default 32)."""
    raw = os.environ.get("APPROVAL_MAX_RUNS", "")
    return int(raw) if raw.strip().isdigit() and int(raw) > 0 else DEFAULT_MAX_RUNS


class RunService(DecisionService):
    """The runs table, and carrying a run out: a message, a decision, or the continuation of a cut run."""

    def __init__(self, store: Store, graph: Pregel | None = None, registry: GraphRegistry | None = None,
                 policy: PolicySource | None = None, remotes: dict[str, Deployment] | None = None):
        super().__init__(store, graph, registry, policy, remotes)
        self.max_runs = max_runs()

    # -- the records ----------------------------------------------------------------------------------------

    def begin_run(self, thread_id: str, kind: RunKind, requester: str, *, input: str = "",
                  decision_id: str | None = None, along: Callable[[Transaction], None] | None = None) -> Run:
        """Record a queued run owned by this replica; ThreadBusy when the thread already has an active run.

        The partial unique index decides, so two replicas starting a run of one thread at once cannot both win.
        `along` writes in the same commit (one disk flush, and nothing written when the run is refused).
        """
        row = run_rows.new_row(thread_id, kind, requester, self.replica, self._creation_time(), input=input,
                               decision_id=decision_id)
        with self.db.transaction() as tx:
            if along is not None:
                along(tx)
            if not insert_run(tx, row):
                raise ThreadBusy("The agent is still working on this conversation; wait for it to finish.")
        return run_of(row)

    def latest_run(self, thread_id: str) -> Run | None:
        row = latest_run(self.db, thread_id)
        return run_of(row) if row else None

    def run(self, run_id: str) -> Run | None:
        row = find_run(self.db, run_id)
        return run_of(row) if row else None

    def run_status(self, thread_id: str, *, viewer: Actor) -> RunStatus | None:
        """The thread's latest run and how many runs wait ahead of it on its replica; None before the first run."""
        run = self.latest_run(self.require_thread(thread_id, viewer=viewer))
        if run is None:
            return None
        ahead = queued_ahead(self.db, run.replica, run.created_at) if run.state == "queued" else 0
        return RunStatus(run, ahead, self.max_runs)

    def renew_leases(self) -> int:
        """The heartbeat: this replica still works on its runs, so nobody takes them over."""
        now = datetime.now(UTC)
        return renew_leases(self.db, self.replica, iso(now), run_rows.lease_until(now))

    def take_over_cut_runs(self) -> list[Run]:
        """Runs whose replica stopped renewing their lease, now this replica's (queued again, one more attempt).

        Compare-and-set on the old owner and lease: of several replicas looking at once, one wins each run.
        """
        now = datetime.now(UTC)
        taken = []
        for row in expired_runs(self.db, iso(now)):
            if take_over_run(self.db, row, self.replica, iso(now), run_rows.lease_until(now)):
                taken.append(run_of({**row, "replica": self.replica, "state": "queued",
                                     "attempts": row["attempts"] + 1}))
        return taken

    def _lease(self, run_id: str) -> bool:
        """Mark our queued run running; False when it is no longer ours (taken over, or already ended).

        Not synced: a power cut that loses it leaves the run queued under a lease that runs out, and a replica
        takes it over; what the run did meanwhile is in its checkpoint and the ledger, which are synced."""
        now = datetime.now(UTC)
        with self.db.transaction(synced=False) as tx:
            return start_run(tx, run_id, self.replica, iso(now), run_rows.lease_until(now))

    def _finish(self, tx: Transaction, run_id: str, error: BaseException | None) -> None:
        reason = "" if error is None else (f"{type(error).__name__}: {error}" if not isinstance(error, ApprovalError)
                                          else str(error))
        finish_run(tx, run_id, self.replica, reason, utcnow())

    # -- carrying a run out ---------------------------------------------------------------------------------

    def execute_run(self, run_id: str) -> BaseException | None:
        """Carry out a run this replica owns, record how it ended, and return its error (None: done or not ours)."""
        run = self.run(run_id)
        if run is None or not self._lease(run_id):
            return None
        try:
            self._advance(run)
            if run.kind == "decision":  # deliver_decision wrote the index and ended the run in its own commit
                with self.db.transaction(synced=False) as tx:  # a lost "done": taken over, found delivered
                    self._finish(tx, run_id, None)
            else:
                with self._index_writer(run.thread_id) as (tx, snapshot):  # the card and "done" in one commit
                    if snapshot is not None:
                        add_thread_row(tx, snapshot)
                    by_policy = write_index(tx, run.thread_id, snapshot, self.policy.current())
                    self._finish(tx, run_id, None)
                self.decide_by_policy(by_policy)  # a stop the rules approve or deny goes on at once
        except Exception as error:  # any failure of the agent (model down, bad tool) is the run's reason
            with self.db.transaction() as tx:
                self._finish(tx, run_id, error)
            return error
        return None

    def _advance(self, run: Run) -> None:
        """From where the thread stands to the next stop: a decision is delivered; a message or a continuation goes
        to the built-in agent's backend (this process, or APPROVAL_RUNS_ON), which never runs a saved step again."""
        if run.kind == "decision":
            if run.decision_id is None:
                raise ApprovalError("This run has no decision to deliver.")
            record = self.deliver_decision(run.decision_id)  # records a delivery that did not take, never raises
            if record.applied_at is None:
                raise ApprovalError(f"The decision is recorded but did not reach the agent: "
                                    f"{record.delivery_error or 'the agent still waits for it'}")
            return
        self.agent_backend().advance(run)

    def start_retry(self, thread_id: str, actor: Actor) -> Run:
        """A new run that picks up where the thread's failed run stopped; refused unless the latest run failed."""
        failed = self.latest_run(self.require_thread(thread_id, viewer=actor))
        if failed is None or failed.state != "failed":
            raise ApprovalError("There is no failed run to retry on this conversation.")
        snapshot = self._snapshot(thread_id)
        written = snapshot is not None and any(m.id == failed.run_id for m in snapshot.messages)
        kind: RunKind = "continue" if failed.kind == "message" and written else failed.kind
        return self.begin_run(thread_id, kind, failed.requester, input=failed.input, decision_id=failed.decision_id)
