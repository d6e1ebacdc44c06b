"""A replica killed with SIGKILL between recording a decision and finishing the resume: the restart finishes it once.

The child process records (and starts applying) the decision, tells us where it stands, and we kill it there:
right after the decision row is written, inside the tool before it runs, after the ledger has the refund but
before the step's checkpoint, and after the whole resume but before the commit that marks it applied (the one
commit a delivery makes without waiting for the disk: a power cut that loses it leaves this same state).
`service.recover()` in the restarted app must apply the decision exactly once.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event

import pytest
from conftest import ALICE
from langchain_core.messages import ToolMessage

from approvals.service.facade import ApprovalService
from approvals.store.schema import open_store
from graphs import build_graph
from graphs.ledger import Ledger

SPAWN = multiprocessing.get_context("spawn")
APPROVE = {"decisions": [{"type": "approve"}]}
KILL_POINTS = ["decision recorded", "tool about to run", "refund in the ledger", "agent resumed"]


class StopAt:
    """Wraps the ledger to announce a point inside the tools step and then hang there until killed."""

    def __init__(self, inner: Ledger, point: str, reached: Event):
        self._inner, self._point, self._reached = inner, point, reached

    def run_once(self, tool_call_id: str, thread_id: str, tool: str, args: dict, effect: Callable[[], str]) -> str:
        self._hang_if("tool about to run")
        result = self._inner.run_once(tool_call_id, thread_id, tool, args, effect)
        self._hang_if("refund in the ledger")
        return result

    def _hang_if(self, point: str) -> None:
        if point == self._point:
            self._reached.set()
            time.sleep(3600)


def decide_then_hang(url: str, thread_id: str, interrupt_id: str, point: str, reached: Event) -> None:
    store = open_store(url)
    service = ApprovalService(store, build_graph(store.checkpointer, ledger=StopAt(store.ledger, point, reached)))
    record = service.record_decision(thread_id, interrupt_id, APPROVE, ALICE)
    if point == "decision recorded":
        reached.set()
        time.sleep(3600)
    if point == "agent resumed":  # the resume is in the checkpoint; the applied commit never happens
        def hang(*args: object, **kwargs: object) -> None:
            reached.set()
            time.sleep(3600)
        service._index_writer = hang  # type: ignore[method-assign]
    service.deliver_decision(record.decision_id)


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_decision_interrupted_by_sigkill_is_applied_once_on_restart(db_url, service, refund_pending, point):
    thread_id, interrupt_id = refund_pending
    reached = SPAWN.Event()
    replica = SPAWN.Process(target=decide_then_hang, args=(db_url, thread_id, interrupt_id, point, reached))
    replica.start()
    assert reached.wait(120), "the replica never reached the kill point"
    replica.kill()
    replica.join(30)
    assert service.decision(thread_id, interrupt_id, viewer=ALICE).applied_at is None

    restarted = ApprovalService(open_store(db_url))
    try:
        assert restarted.recover() == 1
        assert restarted.recover() == 0
        refunds = restarted.store.ledger.entries(thread_id)
        assert [(e["tool"], e["result"][:22]) for e in refunds] == [("issue_refund", "Refunded $25.00 on ord")]
        tool_messages = [m for m in restarted.messages(thread_id, viewer=ALICE) if isinstance(m, ToolMessage)]
        assert [m.content for m in tool_messages] == [refunds[0]["result"]]
        assert restarted.messages(thread_id, viewer=ALICE)[-1].content.startswith("Done: Refunded $25.00")
        assert restarted.decision(thread_id, interrupt_id, viewer=ALICE).applied_at
        assert restarted.pending_approval(thread_id, viewer=ALICE) is None
        assert restarted.count_pending(viewer=ALICE) == 0
    finally:
        restarted.store.close()
