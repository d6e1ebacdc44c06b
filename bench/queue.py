"""The reviewer's queue: the first page of 200 pending approvals, oldest first, among 10,000 threads.

Ours reads the pending-approval index (`service.list_pending`); the naive baseline calls `get_state` for every
thread and sorts what is pending. Target: ours >= 1000x faster than the baseline, and < 10 ms.

Building the database honestly but fast: a few dozen seed conversations run through the real service and graph
(pending refunds, approved refunds, order lookups); every other thread is a copy of a seed's checkpoints, written
with the checkpointer's own put/put_writes (real checkpoints, same size as the graph's); the index rows of
pending copies are written by `service.sync_index`, the thread and resolved-index rows are copied from the seeds.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where this file would shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple  # noqa: E402

from approvals.models import QueueItem  # noqa: E402
from approvals.service import ApprovalService  # noqa: E402
from bench.common import (APPROVE, REFUND, REQUESTER, REVIEWER, app_service, arguments, backend_name,  # noqa: E402
                          fresh_database, median, report, seconds)
from graphs.hitl import HITLRequest  # noqa: E402

PAGE = 200
SEEDS_PER_KIND = 20
TARGET_RATIO, TARGET_MS = 1000, 10


def main() -> None:
    args = arguments(__doc__, threads=10_000, pending=1_000, rounds=50)
    with fresh_database(args.database_url) as url, app_service(url) as service:
        started = time.perf_counter()
        build(service, args.threads, args.pending)
        print(f"built {args.threads} threads ({args.pending} pending) in {time.perf_counter() - started:.1f} s")

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


def naive_first_page(service: ApprovalService) -> list[QueueItem]:
    """What a queue without an index has to do: read every thread's state, keep the pending ones, sort."""
    thread_ids = [row["thread_id"] for row in service.db.query("SELECT thread_id FROM threads")]
    items = []
    for thread_id in thread_ids:
        state = service.graph.get_state({"configurable": {"thread_id": thread_id}})
        for task in state.tasks:
            for interrupt in task.interrupts:
                request = HITLRequest.model_validate(interrupt.value)
                items.append(QueueItem(thread_id, interrupt.id, state.config["configurable"]["checkpoint_id"],
                                       request.action_requests[0].name, request.requested_by, request.policy, "",
                                       request.created_at))
    return sorted(items, key=lambda item: (item.created_at, item.thread_id))[:PAGE]


def build(service: ApprovalService, threads: int, pending: int) -> None:
    seeds = {
        "pending": run_seeds(service, min(SEEDS_PER_KIND, pending), REFUND, decide=False),
        "approved": run_seeds(service, SEEDS_PER_KIND, REFUND, decide=True),
        "lookup": run_seeds(service, SEEDS_PER_KIND, "Where is order 1234?", decide=False),
    }
    seeded = sum(map(len, seeds.values()))
    finished = threads - pending - len(seeds["approved"]) - len(seeds["lookup"])
    copies = {"pending": pending - len(seeds["pending"]), "approved": finished // 2, "lookup": finished - finished // 2}
    started = time.perf_counter()
    for kind, count in copies.items():
        copy_threads(service, seeds[kind], count, f"{kind}-copy")
    if service.db.dialect == "postgres":
        service.db.execute("ANALYZE")  # what autovacuum does shortly after a bulk load; we do not wait for it
    print(f"  {seeded} seed threads through the graph, {threads - seeded} copies"
          f" written through the checkpointer in {time.perf_counter() - started:.1f} s")


def run_seeds(service: ApprovalService, count: int, text: str, decide: bool) -> list[str]:
    thread_ids = []
    for _ in range(count):
        thread_id = service.new_thread_id()
        service.send_message(thread_id, text, REQUESTER)
        if decide:
            service.decide(thread_id, service.pending_approval(thread_id, viewer=REVIEWER).interrupt_id, APPROVE, REVIEWER)
        thread_ids.append(thread_id)
    return thread_ids


def copy_threads(service: ApprovalService, seeds: list[str], count: int, prefix: str) -> None:
    """`count` new threads, each a copy of one seed: its checkpoints, its thread row and its index rows."""
    histories = {seed: history(service.store.checkpointer, seed) for seed in seeds}
    copies = [(f"{prefix}-{n:06d}", seeds[n % len(seeds)]) for n in range(count)]
    for thread_id, seed in copies:
        write_history(service.store.checkpointer, histories[seed], thread_id)
    copy_rows(service, copies, "threads", "thread_id, title, requester, created_at, updated_at")
    copy_rows(service, copies, "pending", "thread_id, interrupt_id, checkpoint_id, tool, requester, policy,"
                                          " args_summary, created_at, status", where="status = 'resolved'")
    for thread_id, seed in copies:
        if service.pending_approval(seed, viewer=REVIEWER) is not None:
            service.sync_index(thread_id)


def history(checkpointer: BaseCheckpointSaver, thread_id: str) -> list[CheckpointTuple]:
    """Oldest first; collected before use (SqliteSaver.list holds its lock while it yields)."""
    return list(reversed(list(checkpointer.list({"configurable": {"thread_id": thread_id}}))))


def write_history(checkpointer: BaseCheckpointSaver, saved: list[CheckpointTuple], thread_id: str) -> None:
    parent = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
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
