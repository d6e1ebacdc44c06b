"""Bulk approval: 100 pending refunds approved through the service, against 100 bare resumes of the same graph.

Ours is what the console's bulk approve does: `decide_many` (each item checked and recorded with the
compare-and-set), then `deliver_decision` for each on the app's BackgroundRunner (resume, audit, index). The
baseline resumes the same number of interrupts with `graph.invoke(Command(resume))` on a runner of the same
size, so the ratio is our overhead. Target: ours < 2 s for 100, until every resume has finished.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from functools import partial

from langgraph.types import Command

from approvals.service.runner import BackgroundRunner
from bench.common import (
    APPROVE,
    REVIEWER,
    app_service,
    arguments,
    backend_name,
    fresh_database,
    report,
    request_refunds,
    seconds,
)

TARGET_S = 2.0


def main() -> None:
    args = arguments(__doc__, items=100)
    with fresh_database(args.database_url) as url, app_service(url) as service:
        bare_items = request_refunds(service, args.items)
        bare_ids = {thread_id for thread_id, _ in bare_items}
        request_refunds(service, args.items)
        listed = service.list_pending(limit=2 * args.items, viewer=REVIEWER)
        ours_items = [item for item in listed if item.thread_id not in bare_ids]

        def bare() -> None:
            runner = BackgroundRunner()
            for thread_id, interrupt_id in bare_items:
                runner.enqueue(thread_id, partial(service.graph.invoke, durability="sync"),
                               Command(resume={interrupt_id: APPROVE}), {"configurable": {"thread_id": thread_id}})
            finish(runner, [thread_id for thread_id, _ in bare_items])

        def ours() -> None:
            result = service.decide_many(ours_items, lambda request: APPROVE, REVIEWER)
            assert len(result.decided) == args.items, result.failed
            runner = BackgroundRunner()
            for record in result.decided:
                runner.enqueue(record.thread_id, service.deliver_decision, record.decision_id)
            finish(runner, [record.thread_id for record in result.decided])

        baseline_s, ours_s = seconds(bare), seconds(ours)
        report(f"Bulk approval of {args.items}", backend_name(url),
               ("graph.invoke(Command(resume)) each, on a BackgroundRunner", baseline_s),
               ("decide_many + deliver_decision each, on a BackgroundRunner", ours_s),
               f"target: ours < {TARGET_S:.0f} s: {'met' if ours_s < TARGET_S else 'MISSED'}")


def finish(runner: BackgroundRunner, thread_ids: list[str]) -> None:
    """Wait for every job; a failed resume fails the benchmark instead of looking fast."""
    for thread_id in thread_ids:
        runner.wait(thread_id)
        if error := runner.take_error(thread_id):
            raise error
    runner.shutdown()


if __name__ == "__main__":
    main()
