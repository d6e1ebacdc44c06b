"""Decision latency: `service.decide` against a bare `graph.invoke(Command(resume=...))`, same graph, same database.

Ours validates, enforces the policy, records the decision with a compare-and-set, writes the audit and index
rows and resumes to the next stop; the baseline only resumes. Target: ours <= 1.5x the baseline (medians).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from bench.common import (
    APPROVE,
    REVIEWER,
    app_service,
    arguments,
    backend_name,
    fresh_database,
    paired_medians,
    ratio_target,
    report,
    request_refunds,
    seconds,
)

WARMUP = 3
TARGET_RATIO = 1.5


def main() -> None:
    args = arguments(__doc__, rounds=60)
    with fresh_database(args.database_url) as url, app_service(url) as service:
        pending = request_refunds(service, 2 * (args.rounds + WARMUP))

        def bare(thread_id: str, interrupt_id: str) -> float:
            config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
            return seconds(lambda: service.graph.invoke(Command(resume={interrupt_id: APPROVE}), config,
                                                        durability="sync"))

        def ours(thread_id: str, interrupt_id: str) -> float:
            return seconds(lambda: service.decide(thread_id, interrupt_id, APPROVE, REVIEWER))

        baseline_s, ours_s = paired_medians(pending, args.rounds, WARMUP, bare, ours)
        report(f"Decision latency, median of {args.rounds}", backend_name(url),
               ("graph.invoke(Command(resume))", baseline_s), ("service.decide", ours_s),
               ratio_target(baseline_s, ours_s, TARGET_RATIO))


if __name__ == "__main__":
    main()
