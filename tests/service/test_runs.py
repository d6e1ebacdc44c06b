"""Runs as records, on SQLite and PostgreSQL: every replica sees a run, one run per thread, cut runs are finished.

Two `ApprovalService` objects on one database are two replicas (each has its own replica id, as two processes
do). The crash test kills a real child process with SIGKILL in the middle of a ChatOpenAI call to a slow
OpenAI-compatible server, then another replica takes the run over once its lease has run out.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import ALICE, BOB, CAROL
from langchain_core.messages import HumanMessage
from openai_compatible import OpenAICompatibleServer, serve

from approvals.core.errors import ApprovalError, ThreadBusy
from approvals.service import run_rows
from approvals.service.facade import ApprovalService
from approvals.service.runner import BackgroundRunner
from approvals.service.scheduler import Scheduler, cut_runs_job, run_leases_job
from approvals.store.schema import open_store
from graphs import build_graph
from graphs.models import load_model

SPAWN = multiprocessing.get_context("spawn")
REFUND = "Refund order 55 for $250"
APPROVE = {"decisions": [{"type": "approve"}]}


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAICompatibleServer]:
    """ChatOpenAI for every graph built in this test, against a server on 127.0.0.1."""
    with serve() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(run_rows, "LEASE_SECONDS", 0.5)
    return 0.5


def replica(url: str) -> ApprovalService:
    store = open_store(url)
    return ApprovalService(store, build_graph(store.checkpointer, load_model(), ledger=store.ledger))


@pytest.fixture
def two_replicas(db_url: str, model: OpenAICompatibleServer) -> Iterator[tuple[ApprovalService, ApprovalService]]:
    first, second = replica(db_url), replica(db_url)
    yield first, second
    first.store.close()
    second.store.close()


def refunds_asked(service: ApprovalService, thread_id: str) -> int:
    return sum(isinstance(m, HumanMessage) and m.text == REFUND for m in service.messages(thread_id, viewer=ALICE))


def test_a_run_on_one_replica_shows_working_on_the_other_which_refuses_a_second(two_replicas):
    first, second = two_replicas
    thread_id = first.new_thread_id()
    run = first.start_message(thread_id, REFUND, CAROL)

    status = second.run_status(thread_id, viewer=CAROL)
    assert status is not None and status.run.state == "queued" and status.run.replica == first.replica
    with pytest.raises(ThreadBusy, match="still working"):
        second.start_message(thread_id, "Refund order 56 for $10", CAROL)
    with pytest.raises(ThreadBusy):
        first.start_message(thread_id, "Refund order 56 for $10", CAROL)

    assert first.execute_run(run.run_id) is None
    assert second.run_status(thread_id, viewer=CAROL).run.state == "done"
    assert second.pending_approval(thread_id, viewer=ALICE).request.action_requests[0].args == {
        "order_id": "55", "amount": 250.0}
    assert second.execute_run(run.run_id) is None and refunds_asked(second, thread_id) == 1  # not theirs to run


def test_two_replicas_starting_the_same_thread_at_once_get_one_run(two_replicas):
    first, second = two_replicas
    thread_id = first.new_thread_id()

    def start(service: ApprovalService) -> str:
        try:
            return service.start_message(thread_id, REFUND, CAROL).replica
        except ThreadBusy:
            return "refused"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(start, [first, second] * 4))
    assert outcomes.count("refused") == 7
    assert len(first.db.query("SELECT * FROM runs WHERE thread_id = ?", (thread_id,))) == 1


def test_someone_else_cannot_read_or_retry_a_run(two_replicas):
    first, _ = two_replicas
    thread_id = first.new_thread_id()
    first.start_message(thread_id, REFUND, CAROL)
    other = CAROL.__class__("dave", "requester")
    with pytest.raises(ApprovalError, match="There is no conversation"):
        first.run_status(thread_id, viewer=other)
    with pytest.raises(ApprovalError, match="There is no conversation"):
        first.start_retry(thread_id, other)


def test_a_cut_run_is_taken_over_by_exactly_one_replica(two_replicas, short_lease):
    first, second = two_replicas
    thread_id = first.new_thread_id()
    run = first.start_message(thread_id, REFUND, CAROL)  # and `first` dies: it never renews the lease
    time.sleep(short_lease + 0.1)

    with ThreadPoolExecutor(2) as pool:
        taken = list(pool.map(lambda service: service.take_over_cut_runs(), [first, second, second, first]))
    winners = [service for service, got in zip([first, second, second, first], taken, strict=True) if got]
    assert len(winners) == 1 and [r.run_id for r in sum(taken, [])] == [run.run_id]
    assert first.run(run.run_id).attempts == 2

    loser = second if winners[0] is first else first
    assert loser.execute_run(run.run_id) is None and loser.run(run.run_id).state == "queued"  # not the loser's
    assert winners[0].execute_run(run.run_id) is None
    assert loser.pending_approval(thread_id, viewer=ALICE) is not None and refunds_asked(loser, thread_id) == 1


def test_a_live_replica_keeps_its_runs(two_replicas, short_lease):
    first, second = two_replicas
    thread_id = first.new_thread_id()
    first.start_message(thread_id, REFUND, CAROL)
    for _ in range(4):
        time.sleep(short_lease / 3)
        first.renew_leases()
        assert second.take_over_cut_runs() == []


def test_a_failed_run_keeps_its_reason_and_retry_continues_from_its_checkpoint(two_replicas, model):
    first, second = two_replicas
    model.failing = True
    thread_id = first.new_thread_id()
    with pytest.raises(Exception, match="overloaded"):
        first.send_message(thread_id, REFUND, CAROL)
    failed = second.run_status(thread_id, viewer=CAROL).run
    assert failed.state == "failed" and "overloaded" in failed.error

    model.failing = False
    retry = second.start_retry(thread_id, CAROL)
    assert retry.kind == "continue"  # the question is in the checkpoint: only the model call is redone
    with pytest.raises(ApprovalError, match="no failed run"):
        first.start_retry(thread_id, CAROL)
    assert second.execute_run(retry.run_id) is None
    pending = first.pending_approval(thread_id, viewer=ALICE)
    assert pending is not None and refunds_asked(first, thread_id) == 1

    first.record_decision(thread_id, pending.interrupt_id, APPROVE, BOB)  # its run is queued with the decision
    assert first.execute_run(first.latest_run(thread_id).run_id) is None
    assert [e["tool"] for e in first.store.ledger.entries(thread_id)] == ["issue_refund"]
    assert first.latest_run(thread_id).kind == "decision" and first.latest_run(thread_id).state == "done"


def start_then_get_killed(url: str, thread_id: str, env: dict[str, str]) -> None:
    """A replica that starts the requester's run and works on it (the test kills it mid model call)."""
    os.environ.update(env)
    run_rows.LEASE_SECONDS = 1.0  # the survivor need not wait long once this process is gone
    service = replica(url)
    service.send_message(thread_id, REFUND, CAROL)


def test_a_run_killed_mid_model_call_is_finished_by_another_replica_once(db_url, model, monkeypatch):
    model.delay = 30.0  # the child's model call hangs until we kill it
    thread_id = ApprovalService.new_thread_id()
    child = SPAWN.Process(target=start_then_get_killed,
                          args=(db_url, thread_id, model.env()))
    child.start()
    try:
        assert model.started.wait(60), "the child never called the model"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.join(10)
    model.delay = 0.0

    survivor = replica(db_url)
    try:
        cut = survivor.latest_run(thread_id)
        assert cut is not None and cut.state == "running" and cut.replica != survivor.replica
        assert survivor.pending_approval(thread_id, viewer=ALICE) is None  # the question, no answer, no card
        runner = BackgroundRunner(runs=survivor)  # the scheduler's job adopts the run once the lease is over
        clock = Scheduler(survivor.db, [cut_runs_job(survivor, runner), run_leases_job(survivor)], survivor.replica)
        clock.start()
        deadline = time.monotonic() + 30
        while survivor.latest_run(thread_id).state != "done":
            assert time.monotonic() < deadline, survivor.latest_run(thread_id)
            time.sleep(0.2)
        clock.stop()
        runner.shutdown()
        pending = survivor.pending_approval(thread_id, viewer=ALICE)
        assert pending is not None and pending.request.action_requests[0].args["order_id"] == "55"
        assert refunds_asked(survivor, thread_id) == 1
        assert survivor.latest_run(thread_id).run_id == cut.run_id and survivor.latest_run(thread_id).attempts == 2

        survivor.decide(thread_id, pending.interrupt_id, APPROVE, ALICE)
        assert len(survivor.store.ledger.entries(thread_id)) == 1
    finally:
        survivor.store.close()


def test_waiting_runs_and_the_limit_are_visible(db_url, model, monkeypatch):
    monkeypatch.setenv("APPROVAL_MAX_RUNS", "2")
    service = replica(db_url)
    try:
        threads = [service.new_thread_id() for _ in range(3)]
        started = [service.start_message(thread_id, REFUND, CAROL) for thread_id in threads]
        last = service.run_status(threads[-1], viewer=CAROL)
        assert (last.run.state, last.queued_ahead, last.max_runs) == ("queued", 2, 2)
        assert service.execute_run(started[0].run_id) is None
        assert service.run_status(threads[-1], viewer=CAROL).queued_ahead == 1
    finally:
        service.store.close()
