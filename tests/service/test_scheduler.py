"""The one clock: every timed job runs once per tick across replicas (a lease in one table), on both backends; a job
that raises is tried again on its next tick and stops nothing; `stop()` ends it cleanly."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ALICE, CAROL

from approvals.service.facade import ApprovalService
from approvals.service.runner import BackgroundRunner
from approvals.service.scheduler import Job, Scheduler, escalation_job
from approvals.store import leases
from approvals.store.schema import Store, open_store

EVERY = 10.0


@pytest.fixture
def replicas(db_url: str) -> Iterator[list[Store]]:
    """Two replicas' stores on one database (SQLite file or PostgreSQL)."""
    stores = [open_store(db_url) for _ in range(2)]
    yield stores
    for store in stores:
        store.close()


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def counting(runs: Counter, name: str = "count", every: float = EVERY, shared: bool = True) -> Job:
    def work(now: datetime) -> None:
        runs[now] += 1

    return Job(name, every, work, shared=shared)


def test_two_schedulers_on_one_database_run_each_job_once_per_tick(replicas: list[Store]):
    runs: Counter = Counter()
    clocks = [Scheduler(store.db, [counting(runs)], f"replica-{n}") for n, store in enumerate(replicas)]
    start = datetime.now(UTC)
    for tick in range(4):
        for moment in (start + timedelta(seconds=tick * EVERY), start + timedelta(seconds=(tick + 0.5) * EVERY)):
            both = threading.Barrier(2)

            def run(clock: Scheduler, at: datetime = moment, barrier: threading.Barrier = both) -> None:
                barrier.wait()
                clock.run_due(at)

            racing = [threading.Thread(target=run, args=(clock,)) for clock in clocks]
            for thread in racing:
                thread.start()
            for thread in racing:
                thread.join(30)
    assert sorted(runs) == [start + timedelta(seconds=tick * EVERY) for tick in range(4)]  # never mid-tick
    assert set(runs.values()) == {1}  # and once per tick, whichever replica won it
    [lease] = leases.leases(replicas[0].db)
    assert lease.name == "count" and lease.due_at == (start + timedelta(seconds=4 * EVERY)).isoformat(
        timespec="milliseconds")


def test_a_replica_that_died_mid_job_holds_it_only_until_its_lease_runs_out(replicas: list[Store]):
    runs: Counter = Counter()
    job = counting(runs)
    now = datetime.now(UTC)
    assert leases.take(replicas[0].db, job.name, "dead-replica", now, now + timedelta(seconds=job.lease))
    survivor = Scheduler(replicas[1].db, [job], "survivor")
    assert survivor.run_due(now + timedelta(seconds=EVERY)) == []  # the holder may still be working
    assert survivor.run_due(now + timedelta(seconds=job.lease)) == ["count"]


def test_a_replica_local_job_runs_on_every_replica(replicas: list[Store]):
    runs: Counter = Counter()
    clocks = [Scheduler(store.db, [counting(runs, "heartbeat", shared=False)], "r") for store in replicas]
    now = datetime.now(UTC)
    assert [clock.run_due(now) for clock in clocks] == [["heartbeat"], ["heartbeat"]]
    assert leases.leases(replicas[0].db) == []


def test_a_job_that_raises_is_retried_next_tick_and_the_others_keep_running(store: Store, caplog):
    calls: Counter = Counter()

    def fails_first(now: datetime) -> None:
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise RuntimeError("the receiver is down")

    def steady(now: datetime) -> None:
        calls["steady"] += 1

    clock = Scheduler(store.db, [Job("flaky", 0.05, fails_first), Job("steady", 0.05, steady)], "replica").start()
    try:
        wait_for(lambda: calls["flaky"] >= 3 and calls["steady"] >= 3)
    finally:
        clock.stop()
    assert "scheduled job flaky failed" in caplog.text and "the receiver is down" in caplog.text
    stopped = dict(calls)
    time.sleep(0.2)
    assert dict(calls) == stopped, "a stopped scheduler runs nothing"


def test_a_job_with_more_waiting_runs_again_at_once(store: Store):
    batches: list[datetime] = []

    def drain(now: datetime) -> bool:
        batches.append(now)
        return len(batches) < 3  # a full batch: more is waiting

    clock = Scheduler(store.db, [Job("drain", 3600.0, drain)], "replica").start()
    try:
        wait_for(lambda: len(batches) == 3)
    finally:
        clock.stop()
    [lease] = leases.leases(store.db)
    assert lease.due_at == (batches[-1] + timedelta(hours=1)).isoformat(timespec="milliseconds")


RULE = """
[[rules]]
name = "refunds"
tool = "issue_refund"
remind_after_minutes = 10
expire_after_minutes = 30
expire_message = "Nobody decided in time."
"""


def test_escalation_on_two_replicas_reminds_once_and_expires_once_through_a_run(db_url, tmp_path, monkeypatch):
    policy = tmp_path / "approvals.toml"
    policy.write_text(RULE)
    monkeypatch.setenv("APPROVALS_CONFIG", str(policy))
    monkeypatch.setenv("APPROVAL_WEBHOOK_URL", "http://127.0.0.1:9/hook")  # events are queued, to count them
    services = [ApprovalService(open_store(db_url)) for _ in range(2)]
    runners = [BackgroundRunner(runs=service) for service in services]
    try:
        thread_id = services[0].new_thread_id()
        services[0].send_message(thread_id, "Refund order 55 for $250", CAROL)
        [item] = services[0].list_pending(viewer=ALICE)
        created = datetime.fromisoformat(item.created_at)
        clocks = [Scheduler(s.db, [escalation_job(s)], s.replica) for s in services]
        for minutes in (5, 11, 12, 31, 32):
            for clock in clocks:
                clock.run_due(created + timedelta(minutes=minutes))
        for runner in runners:
            runner.wait(thread_id, timeout=60)
        events = Counter(row["event"] for row in services[0].db.query("SELECT event FROM outbox")
                         if row["event"].startswith("approval."))
        assert events == {"approval.pending": 1, "approval.reminder": 1, "approval.decided": 1}
        [decision] = services[0].decisions(viewer=ALICE)
        assert (decision.decided_by, decision.decision, decision.message) == (
            "policy:refunds", "reject", "Nobody decided in time.")
        assert decision.applied_at, "the expiry reached the agent"
    finally:
        for runner, service in zip(runners, services, strict=True):
            runner.shutdown()
            service.store.close()
