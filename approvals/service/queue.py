"""The queue: pending approvals read from the index, one item read from its checkpoint, and keeping the index true."""

from __future__ import annotations

from approvals.core.actors import Actor
from approvals.core.errors import AlreadyDecided, NotPending
from approvals.core.policy import Verdict
from approvals.core.records import DecisionRecord, PendingApproval, QueueItem
from approvals.core.visibility import QueueFilter, may_see, scoped
from approvals.service import escalation, metrics, oversight
from approvals.service.base import ServiceBase
from approvals.service.index import decision_record, index_snapshot, open_interrupt, pending_in
from approvals.store import decisions, queue_index
from approvals.store.database import utcnow


class QueueService(ServiceBase):
    """Reads of pending approvals (visibility applied) and the index that serves them."""

    # -- pending approvals -------------------------------------------------------------------------------

    def pending_approval(
        self, thread_id: str, *, viewer: Actor, with_messages: bool = False, interrupt_id: str | None = None
    ) -> PendingApproval | None:
        """One open interrupt of the thread, from the checkpoint itself (what a refresh must show), or None.

        With `interrupt_id`, that one only; without, the first (a thread may wait on several at once).
        """
        return self._pending(self.require_thread(thread_id, viewer=viewer), with_messages, interrupt_id)

    def pending_approvals(self, thread_id: str, *, viewer: Actor, with_messages: bool = False) -> list[PendingApproval]:
        """Every open interrupt of the thread (parallel tool calls may wait at once), each its own item."""
        snapshot = self._snapshot(self.require_thread(thread_id, viewer=viewer))
        return pending_in(snapshot, with_messages) if snapshot else []

    def approval(
        self, thread_id: str, interrupt_id: str, *, viewer: Actor, with_messages: bool = False
    ) -> PendingApproval:
        """One pending approval, or why not: UnknownThread (unknown or not the viewer's), AlreadyDecided, NotPending."""
        pending = self._pending(self.require_thread(thread_id, viewer=viewer), with_messages, interrupt_id)
        # Decided but not yet delivered, the interrupt is still open in the checkpoint: it is decided all the same.
        if existing := self._decision(thread_id, interrupt_id):
            raise AlreadyDecided(existing.decided_by, existing.decided_at, existing.decision)
        if pending is None:
            raise NotPending("This approval is no longer pending.")
        return pending

    def _pending(self, thread_id: str, with_messages: bool = False, interrupt_id: str | None = None
                 ) -> PendingApproval | None:
        return open_interrupt(self._snapshot(thread_id), interrupt_id, with_messages)

    def list_pending(
        self, filters: QueueFilter = QueueFilter(), limit: int = 200, offset: int = 0, *, viewer: Actor
    ) -> list[QueueItem]:
        """In the filter's order (oldest first by default), straight from the index (never a get_state loop over
        threads); a requester's own only."""
        return queue_index.pending_page(self.db, scoped(filters, viewer), limit, offset)

    def pending_digest(self, thread_id: str, interrupt_id: str, *, viewer: Actor) -> str | None:
        """The digest of the item's request as the index holds it now (None when it is not pending there): an open
        pane compares it with what it drew to notice, within seconds, that the request changed elsewhere."""
        return queue_index.request_digest(self.db, self.require_thread(thread_id, viewer=viewer), interrupt_id)

    def pending_tools(self, *, viewer: Actor) -> list[str]:
        """The tools that are pending now (what the queue's tool filter offers), alphabetically."""
        return queue_index.pending_tools(self.db, scoped(QueueFilter(), viewer))

    def count_pending(self, filters: QueueFilter = QueueFilter(), *, viewer: Actor) -> int:
        return queue_index.count_pending(self.db, scoped(filters, viewer))

    def sync_index(self, thread_id: str) -> None:
        """Make the index agree with the thread's checkpoint: its interrupts pending, everything else resolved.

        Works for any thread, including one written by another process; the thread row is added when missing.
        (DecisionService also decides the new items the policy approves or denies by itself.)
        """
        self._index_thread(thread_id)

    def _index_thread(self, thread_id: str) -> list[tuple[str, str, Verdict]]:
        """`sync_index`'s work; returns the new items the policy decides itself."""
        with self._index_writer(thread_id) as (tx, snapshot):
            return index_snapshot(tx, thread_id, snapshot, self.policy.current())

    def reconcile(self) -> int:
        """Rebuild the index (and the thread list) from the checkpoints; returns how many threads were checked."""
        thread_ids = sorted({c.config["configurable"]["thread_id"] for c in self.store.checkpointer.list(None)})
        for thread_id in thread_ids:
            self.sync_index(thread_id)
        for thread_id in queue_index.open_local_threads(self.db) - set(thread_ids):
            queue_index.resolve_thread(self.db, thread_id)
        return len(thread_ids)

    def _decision(self, thread_id: str, interrupt_id: str) -> DecisionRecord | None:
        row = decisions.decision_row(self.db, thread_id, interrupt_id)
        return decision_record(row) if row else None

    def decision(self, thread_id: str, interrupt_id: str, *, viewer: Actor) -> DecisionRecord | None:
        """How the approval was decided, if it was; UnknownThread for a conversation `viewer` may not read."""
        return self._decision(self.require_thread(thread_id, viewer=viewer), interrupt_id)

    def item_steps(self, thread_id: str, interrupt_id: str, *, viewer: Actor) -> list[oversight.ItemStep]:
        """Who opened and claimed the item and when (the timeline), for a viewer who may read the conversation."""
        return oversight.item_steps(self.db, self.require_thread(thread_id, viewer=viewer), interrupt_id)

    def escalation_steps(self, thread_id: str, interrupt_id: str) -> list[escalation.Step]:
        """The escalation steps the item went through (a reminder, a reassignment), newest first."""
        return [step for step in escalation.steps(self.db, thread_id) if step.interrupt_id == interrupt_id]

    def note_open(self, thread_id: str, interrupt_id: str, actor: Actor) -> None:
        """`actor` opened the item (an API client reading it): the oversight metrics' "opened"."""
        oversight.note_open(self.db, thread_id, interrupt_id, actor)

    # -- the stop switch and the oversight metrics -------------------------------------------------------

    def paused_targets(self) -> list[oversight.PausedTarget]:
        """Every paused tool and graph, by kind and name (everyone sees what is paused)."""
        return oversight.paused_targets(self.db)

    def pause(self, kind: str, name: str, actor: Actor) -> oversight.PausedTarget:
        """Stop approvals for a tool or a graph (reviewers; chained); TooManyPauses at the cap."""
        return oversight.pause(self.db, kind, name, actor)

    def unpause(self, kind: str, name: str, actor: Actor) -> bool:
        """Let a paused tool's or graph's approvals through again (reviewers; chained); False when it was not
        paused."""
        return oversight.resume(self.db, kind, name, actor)

    def oversight_metrics(self, viewer: Actor, since: str | None = None) -> metrics.OversightMetrics:
        """Per reviewer and per tool, over the chained decisions recorded since `since` (all, for None); reviewers
        only."""
        return metrics.oversight_metrics(self.db, viewer, since)

    def undelivered(self, limit: int = 100, *, viewer: Actor) -> list[DecisionRecord]:
        """Decided, not yet delivered: a delivery did not take, or none finished within its lease. Oldest first,
        each with the reason; a decision still being delivered for the first time is not listed."""
        rows = decisions.undelivered_decisions(self.db, utcnow(), _narrowed(viewer), limit)
        return [decision_record(row) for row in rows]

    def decisions(self, limit: int = 1000, thread_id: str | None = None, *, viewer: Actor) -> list[DecisionRecord]:
        """Newest first: who decided what, when, and how the args were edited; a requester sees their own only."""
        rows = decisions.newest_decisions(self.db, thread_id, _narrowed(viewer), limit)
        return [decision_record(row) for row in rows]


def _narrowed(viewer: Actor) -> str | None:
    """Whose decisions `viewer` may read: None for all (reviewers), else their own requests'."""
    return None if may_see(viewer, None) else viewer.name
