"""The reviewer's queue: the first page of 200 pending approvals, oldest first, among 10,000 threads.

Ours reads the pending-approval index (`service.list_pending`); the naive baseline calls `get_state` for every
thread (on the thread's own graph) and sorts what is pending. Target: ours >= 1000x faster than the baseline, and
< 10 ms.

Building the database honestly but fast: a few dozen seed conversations run through the real service and graph
(pending refunds, approved refunds, order lookups); every other thread is a copy of a seed's checkpoints, written
with the checkpointer's own put/put_writes (real checkpoints, same size as the graph's); the index rows of
pending copies are written by `service.sync_index`, the thread and resolved-index rows are copied from the seeds.
Foreign threads are mixed in (default 1,000, 100 of them pending): the example create_agent shipping agent run by
`examples.worker` on LangGraph's own saver, some approved through the service, and copies of both; the pending
ones reach the index only through discovery (the change log the checkpointer's triggers fill).
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where this file would shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from approvals.core.interrupts import review_request
from approvals.core.records import QueueItem
from approvals.core.visibility import QueueFilter
from approvals.service.facade import ApprovalService
from approvals.sources.discovery import discover_all
from bench.common import (
    APPROVE,
    REFUND,
    REQUESTER,
    REVIEWER,
    app_service,
    arguments,
    backend_name,
    fresh_database,
    median,
    report,
    seconds,
    waiting_interrupt,
)
from examples import worker

PAGE = 200
SEEDS_PER_KIND = 20
TARGET_RATIO, TARGET_MS = 1000, 10


def main() -> None:
    args = arguments(__doc__, threads=10_000, pending=1_000, foreign=1_000, foreign_pending=100, rounds=50)
    with fresh_database(args.database_url) as url, app_service(url) as service:
        os.environ["DATABASE_URL"] = url  # the worker's own saver (and the example's tool) use the same database
        started = time.perf_counter()
        build(service, args.threads, args.pending, args.foreign, args.foreign_pending)
        print(f"built {args.threads} threads ({args.pending} pending; {args.foreign} foreign, {args.foreign_pending}"
              f" of them pending) in {time.perf_counter() - started:.1f} s")

        naive_page: list[QueueItem] = []
        baseline_s = seconds(lambda: naive_page.extend(naive_first_page(service)))
        for _ in range(3):
            service.list_pending(limit=PAGE, viewer=REVIEWER)  # warm up, as a running app is
        samples = [seconds(lambda: service.list_pending(limit=PAGE, viewer=REVIEWER)) for _ in range(args.rounds)]
        page = service.list_pending(limit=PAGE, viewer=REVIEWER)
        assert [i.thread_id for i in page] == [i.thread_id for i in naive_page], "the two listings disagree"
        ours_s = median(samples)
        met = baseline_s / ours_s >= TARGET_RATIO and ours_s * 1000 < TARGET_MS
        report(f"First queue page of {PAGE}, {args.threads} threads, {args.pending} pending", backend_name(url),
               ("get_state for every thread, once", baseline_s), (f"list_pending, median of {args.rounds}", ours_s),
               f"target: >= {TARGET_RATIO}x and < {TARGET_MS} ms: {'met' if met else 'MISSED'}", speedup=True)
        search_and_sort(service, args.rounds, backend_name(url))


def search_and_sort(service: ApprovalService, rounds: int, backend: str) -> None:
    """Search ("refund", over tool, arguments, requester and title) sorted by amount, with the count the page
    shows: in the index, against reading every pending row and filtering and sorting them in Python."""
    wanted = QueueFilter(search="refund", sort="amount")

    def naive() -> list[QueueItem]:
        everything = service.list_pending(limit=10**9, viewer=REVIEWER)
        found = [i for i in everything if "refund" in f"{i.tool} {i.args} {i.requester}".lower()]
        return sorted(found, key=lambda i: -float(i.arguments.get("amount") or 0))[:PAGE]

    def ours() -> tuple[list[QueueItem], int]:
        return service.list_pending(wanted, limit=PAGE, viewer=REVIEWER), service.count_pending(wanted, viewer=REVIEWER)

    for _ in range(3):
        ours()
    baseline_s = median([seconds(naive) for _ in range(5)])
    ours_s = median([seconds(ours) for _ in range(rounds)])
    (page, total), expected = ours(), naive()
    assert [i.arguments.get("amount") for i in page] == [i.arguments.get("amount") for i in expected], "orders differ"
    pending = service.count_pending(viewer=REVIEWER)
    report(f"Search and sort: {total} of {pending} pending match 'refund', largest amount first, page of {PAGE}",
           backend, ("every pending row read, filtered and sorted in Python", baseline_s),
           (f"list_pending + count_pending on the index, median of {rounds}", ours_s),
           f"target: < {TARGET_MS} ms: {'met' if ours_s * 1000 < TARGET_MS else 'MISSED'}", speedup=True)


def naive_first_page(service: ApprovalService) -> list[QueueItem]:
    """What a queue without an index has to do: read every thread's state, keep the pending ones, sort."""
    threads = service.db.query("SELECT thread_id, graph FROM threads")
    items = []
    for thread in threads:
        state = service.graph_for(thread["graph"]).get_state({"configurable": {"thread_id": thread["thread_id"]}})
        requester = (state.metadata or {}).get("requester")
        for task in state.tasks:
            for interrupt in task.interrupts:
                review = review_request(interrupt, str(requester) if requester else None, state.created_at or "")
                items.append(QueueItem(thread["thread_id"], interrupt.id, state.config["configurable"]["checkpoint_id"],
                                       review.tool, review.requested_by, review.policy, "", review.created_at,
                                       thread["graph"], review.kind))
    return sorted(items, key=lambda item: (item.created_at, item.thread_id))[:PAGE]


def build(service: ApprovalService, threads: int, pending: int, foreign: int = 0, foreign_pending: int = 0) -> None:
    ours_pending, foreign_done = pending - foreign_pending, foreign - foreign_pending
    seeds = {
        "pending": run_seeds(service, min(SEEDS_PER_KIND, ours_pending), REFUND, decide=False),
        "approved": run_seeds(service, SEEDS_PER_KIND, REFUND, decide=True),
        "lookup": run_seeds(service, SEEDS_PER_KIND, "Where is order 1234?", decide=False),
        "foreign-pending": run_worker_seeds(service, min(SEEDS_PER_KIND, foreign_pending), decide=False),
        "foreign-done": run_worker_seeds(service, min(SEEDS_PER_KIND, foreign_done), decide=True),
    }
    seeded = sum(map(len, seeds.values()))
    finished = threads - pending - foreign_done - len(seeds["approved"]) - len(seeds["lookup"])
    copies = {"pending": ours_pending - len(seeds["pending"]), "approved": finished // 2,
              "lookup": finished - finished // 2, "foreign-pending": foreign_pending - len(seeds["foreign-pending"]),
              "foreign-done": foreign_done - len(seeds["foreign-done"])}
    started = time.perf_counter()
    for kind, count in copies.items():
        copy_threads(service, seeds[kind], count, f"{kind}-copy", discovered=kind == "foreign-pending")
    print(f"  {seeded} seed threads through the graphs, {threads - seeded} copies"
          f" written through the checkpointer in {time.perf_counter() - started:.1f} s")
    # Copies whose rows were copied above need no discovery; the foreign pending copies get none but this.
    service.db.execute("DELETE FROM thread_changes WHERE thread_id IN (SELECT thread_id FROM threads)")
    started = time.perf_counter()
    found = discover_all(service)
    print(f"  discovery indexed {copies['foreign-pending']} foreign pending threads ({found} change-log rows)"
          f" in {(time.perf_counter() - started) * 1000:.0f} ms")
    if service.db.dialect == "postgres":
        service.db.execute("ANALYZE")  # what autovacuum does shortly after a bulk load; we do not wait for it


def run_seeds(service: ApprovalService, count: int, text: str, decide: bool) -> list[str]:
    thread_ids = []
    for _ in range(count):
        thread_id = service.new_thread_id()
        service.send_message(thread_id, text, REQUESTER)
        if decide:
            service.decide(thread_id, waiting_interrupt(service, thread_id), APPROVE, REVIEWER)
        thread_ids.append(thread_id)
    return thread_ids


def run_worker_seeds(service: ApprovalService, count: int, decide: bool) -> list[str]:
    """Threads of the example shipping agent, run by the worker on LangGraph's own saver, found by discovery."""
    thread_ids = [f"foreign-{'done' if decide else 'pending'}-seed-{n:03d}" for n in range(count)]
    for thread_id in thread_ids:
        worker.run("shipping", "Ship order 42 to 1 Main St", thread_id, "dave")
    discover_all(service)
    for thread_id in thread_ids if decide else []:
        service.decide(thread_id, waiting_interrupt(service, thread_id), APPROVE, REVIEWER)
    return thread_ids


def copy_threads(service: ApprovalService, seeds: list[str], count: int, prefix: str, discovered: bool = False) -> None:
    """`count` new threads, each a copy of one seed: its checkpoints, its thread row and its index rows
    (when `discovered`, only the checkpoints: discovery finds the rest)."""
    histories = {seed: history(service.store.checkpointer, seed) for seed in seeds}
    copies = [(f"{prefix}-{n:06d}", seeds[n % len(seeds)]) for n in range(count)]
    for thread_id, seed in copies:
        write_history(service.store.checkpointer, histories[seed], thread_id)
    if discovered:
        return
    copy_rows(service, copies, "threads", "thread_id, title, requester, created_at, updated_at, graph")
    copy_rows(service, copies, "pending", "thread_id, interrupt_id, checkpoint_id, tool, requester, policy,"
                                          " args_summary, created_at, status, graph, kind", where="status = 'resolved'")
    for thread_id, seed in copies:
        if service.pending_approval(seed, viewer=REVIEWER) is not None:
            service.sync_index(thread_id)


def history(checkpointer: BaseCheckpointSaver, thread_id: str) -> list[CheckpointTuple]:
    """Oldest first; collected before use (SqliteSaver.list holds its lock while it yields)."""
    return list(reversed(list(checkpointer.list({"configurable": {"thread_id": thread_id}}))))


def write_history(checkpointer: BaseCheckpointSaver, saved: list[CheckpointTuple], thread_id: str) -> None:
    parent: RunnableConfig = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    for checkpoint in saved:
        config = checkpointer.put(parent, checkpoint.checkpoint, checkpoint.metadata,
                                  checkpoint.checkpoint["channel_versions"])
        writes: defaultdict[str, list[tuple[str, object]]] = defaultdict(list)
        for task_id, channel, value in checkpoint.pending_writes or []:
            writes[task_id].append((channel, value))
        for task_id, task_writes in writes.items():
            checkpointer.put_writes(config, task_writes, task_id)
        parent = config


def copy_rows(service: ApprovalService, copies: list[tuple[str, str]], table: str, columns: str,
              where: str = "1 = 1") -> None:
    """The seed's rows of `table`, once per copy with the copy's thread_id."""
    names = [c.strip() for c in columns.split(",")]
    select = f"SELECT {columns} FROM {table} WHERE thread_id = ? AND {where}"
    seed_rows = {seed: service.db.query(select, (seed,)) for seed in {seed for _, seed in copies}}
    rows = [tuple(thread_id if name == "thread_id" else row[name] for name in names)
            for thread_id, seed in copies for row in seed_rows[seed]]
    if rows:
        with service.db.transaction() as tx:
            tx.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(names))})", rows)


if __name__ == "__main__":
    main()
