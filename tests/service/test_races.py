"""Races between processes and between sessions: one decision per approval, the tool runs once, nothing lost.

Workers are separate processes (spawned, like two app replicas) that stay up for all trials and meet at a
barrier before each one, so both decide the same approval at the same moment.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier

from conftest import ALICE, BOB, GUEST
from langchain_core.messages import ToolMessage
from langgraph.types import Command

from approvals.core.actors import Actor
from approvals.core.errors import AlreadyDecided, ApprovalError, NotPending
from approvals.service.claims import claim, release
from approvals.service.facade import ApprovalService
from approvals.store.schema import Store, open_store
from graphs import build_graph
from graphs.ledger import Ledger

TRIALS = 100
APPROVE = {"decisions": [{"type": "approve"}]}
SPAWN = multiprocessing.get_context("spawn")
WORKER_TIMEOUT_S = 120


class CountingLedger:
    """Counts real tool executions (the effect itself), then defers to the ledger being wrapped."""

    def __init__(self, inner: Ledger, executions: Synchronized):
        self._inner, self._executions = inner, executions

    def run_once(self, tool_call_id: str, thread_id: str, tool: str, args: dict, effect: Callable[[], str]) -> str:
        def counted() -> str:
            with self._executions.get_lock():
                self._executions.value += 1
            return effect()

        return self._inner.run_once(tool_call_id, thread_id, tool, args, counted)


class UnguardedLedger:
    """No ledger at all: counts each execution and holds it until the other process is in the tool too."""

    def __init__(self, executions: Synchronized, both_in_tool: Barrier):
        self._executions, self._both_in_tool = executions, both_in_tool

    def run_once(self, tool_call_id: str, thread_id: str, tool: str, args: dict, effect: Callable[[], str]) -> str:
        with self._executions.get_lock():
            self._executions.value += 1
        self._both_in_tool.wait(WORKER_TIMEOUT_S)
        return effect()


def decide_each_trial(url: str, reviewer: str, trials: list[tuple[str, str]], start: Barrier, executions: Synchronized,
                      outcomes: multiprocessing.Queue) -> None:
    """A replica: for every trial, wait for the other one, then approve the same item through the service."""
    store = open_store(url)
    service = ApprovalService(store, build_graph(store.checkpointer, ledger=CountingLedger(store.ledger, executions)))
    mine = []
    for thread_id, interrupt_id in trials:
        start.wait(WORKER_TIMEOUT_S)
        try:
            service.decide(thread_id, interrupt_id, APPROVE, Actor(reviewer, "reviewer"))
            mine.append("applied")
        except ApprovalError as error:
            mine.append(type(error).__name__)
    store.close()
    outcomes.put((reviewer, mine))


def resume_bare_graph(url: str, thread_id: str, interrupt_id: str, start: Barrier, executions: Synchronized,
                      both_in_tool: Barrier) -> None:
    """What a replica would do without our service: resume the interrupt straight away."""
    store = open_store(url)
    graph = build_graph(store.checkpointer, ledger=UnguardedLedger(executions, both_in_tool))
    start.wait(WORKER_TIMEOUT_S)
    graph.invoke(Command(resume={interrupt_id: APPROVE}), {"configurable": {"thread_id": thread_id}}, durability="sync")
    store.close()


def run_all(processes: list[multiprocessing.Process]) -> list[int | None]:
    for process in processes:
        process.start()
    for process in processes:
        process.join(WORKER_TIMEOUT_S * 2)
    return [process.exitcode for process in processes]


def request_refunds(service: ApprovalService, count: int) -> list[tuple[str, str]]:
    pending = []
    for _ in range(count):
        thread_id = service.new_thread_id()
        service.send_message(thread_id, "Refund order 1234 for $25", GUEST)
        pending.append((thread_id, service.pending_approval(thread_id, viewer=ALICE).interrupt_id))
    return pending


def test_two_replicas_approving_at_once_apply_exactly_one_decision_each_time(db_url, service):
    trials = request_refunds(service, TRIALS)
    start, executions, queue = SPAWN.Barrier(2), SPAWN.Value("i", 0), SPAWN.Queue()
    workers = [SPAWN.Process(target=decide_each_trial, args=(db_url, name, trials, start, executions, queue))
               for name in (ALICE.name, BOB.name)]
    for worker in workers:
        worker.start()
    outcomes = dict(queue.get(timeout=WORKER_TIMEOUT_S * 2) for _ in workers)  # before join: the queue must drain
    for worker in workers:
        worker.join(WORKER_TIMEOUT_S)
    assert [worker.exitcode for worker in workers] == [0, 0]

    for index, (thread_id, interrupt_id) in enumerate(trials):
        pair = {outcomes["alice"][index], outcomes["bob"][index]}
        assert len(pair) == 2 and pair - {"applied"} <= {AlreadyDecided.__name__, NotPending.__name__}, (index, pair)
        decision = service.decision(thread_id, interrupt_id, viewer=ALICE)
        assert decision.applied_at and outcomes[decision.decided_by][index] == "applied"
        assert len([m for m in service.messages(thread_id, viewer=ALICE) if isinstance(m, ToolMessage)]) == 1
    assert executions.value == TRIALS
    assert len(service.store.ledger.entries()) == TRIALS
    assert len(service.decisions(viewer=ALICE)) == TRIALS
    assert service.count_pending(viewer=ALICE) == 0


def test_without_our_guard_two_processes_resume_one_interrupt_and_the_tool_runs_twice(db_url, store: Store):
    """Why the service records decisions with a compare-and-set: LangGraph itself lets both resumes through."""
    graph = build_graph(store.checkpointer)
    config = {"configurable": {"thread_id": "bare"}}
    graph.invoke({"messages": [("user", "Refund order 1234 for $25")]}, config, durability="sync")
    interrupt_id = graph.get_state(config).tasks[0].interrupts[0].id
    start, both_in_tool, executions = SPAWN.Barrier(2), SPAWN.Barrier(2), SPAWN.Value("i", 0)
    resumes = [
        SPAWN.Process(target=resume_bare_graph, args=(db_url, "bare", interrupt_id, start, executions, both_in_tool))
        for _ in range(2)
    ]

    assert run_all(resumes) == [0, 0]  # both resumes succeeded
    assert executions.value == 2  # and both ran the refund

    finished = graph.get_state(config)
    late = {"decisions": [{"type": "reject", "message": "Too late, but nobody will say so"}]}
    graph.invoke(Command(resume={interrupt_id: late}), config, durability="sync")
    after = graph.get_state(config)
    assert after.config == finished.config and after.values == finished.values  # ignored, without an error
    assert not after.next


def test_eight_sessions_on_sqlite_are_never_locked_out_and_lose_nothing(tmp_path):
    """8 threads x 200 operations on one SQLite file: graph runs, decisions, claims, ledger writes and reads."""
    store = open_store(str(tmp_path / "app.db"))
    service = ApprovalService(store)
    errors: list[BaseException] = []

    def session(number: int) -> None:
        try:
            for step in range(OPERATIONS):
                one_operation(service, number, step)
        except BaseException as error:  # collected and asserted below: a worker thread cannot fail the test itself
            errors.append(error)

    sessions = [threading.Thread(target=session, args=(n,)) for n in range(8)]
    for thread in sessions:
        thread.start()
    for thread in sessions:
        thread.join()
    try:
        assert errors == []
        assert len(store.ledger.entries()) == 8 * (LEDGER_WRITES + REQUESTS)
        assert len(service.decisions(viewer=ALICE)) == 8 * REQUESTS
        assert all(d.applied_at for d in service.decisions(viewer=ALICE))
        assert len(service.recent_threads(1000, viewer=GUEST)) == 8 * REQUESTS
        assert service.count_pending(viewer=ALICE) == 0
        assert store.db.query("SELECT COUNT(*) AS n FROM claims")[0]["n"] == 0
    finally:
        store.close()


OPERATIONS = 200
REQUESTS = OPERATIONS // 20  # one request (and its decision) per 20 operations, as scheduled below
LEDGER_WRITES = 6 * REQUESTS


def one_operation(service: ApprovalService, session: int, step: int) -> None:
    """Step `step` of a session's 200: every 20 steps a request and its decision, otherwise small reads/writes."""
    reviewer = Actor(f"reviewer-{session}", "reviewer")
    thread_id = f"s{session}-r{step // 20}"
    match step % 20:
        case 0:
            service.send_message(thread_id, f"Refund order {session}-{step} for $25", GUEST)
        case 1:
            pending = service.pending_approval(thread_id, viewer=ALICE)
            claim(service.db, thread_id, pending.interrupt_id, reviewer)
        case 2:
            pending = service.pending_approval(thread_id, viewer=ALICE)
            service.decide(thread_id, pending.interrupt_id, APPROVE, reviewer)
            release(service.db, thread_id, pending.interrupt_id, reviewer)
        case 3 | 4 | 5 | 6 | 7 | 8:
            service.store.ledger.run_once(f"s{session}-{step}", thread_id, "note", {"step": step}, lambda: "noted")
        case 9 | 10 | 11 | 12 | 13:
            service.list_pending(limit=50, viewer=ALICE)
        case _:
            service.count_pending(viewer=ALICE)
            service.recent_threads(20, viewer=GUEST)

