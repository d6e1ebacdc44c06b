"""Decision latency: `service.decide` against a bare `graph.invoke(Command(resume=...))`, same graph, same database.

Ours validates, enforces the policy, records the decision with a compare-and-set, writes the audit and index
rows and resumes to the next stop; the baseline only resumes. Target: ours <= 1.5x the baseline (medians).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from langgraph.types import Command  # noqa: E402

from bench.common import (APPROVE, REVIEWER, app_service, arguments, backend_name, fresh_database, median,
                          report, request_refunds, seconds)  # noqa: E402

WARMUP = 3
TARGET_RATIO = 1.5


def main() -> None:
    args = arguments(__doc__, rounds=60)
    with fresh_database(args.database_url) as url, app_service(url) as service:
        pending = request_refunds(service, 2 * (args.rounds + WARMUP))

        def bare(thread_id: str, interrupt_id: str) -> float:
            config = {"configurable": {"thread_id": thread_id}}
            return seconds(lambda: service.graph.invoke(Command(resume={interrupt_id: APPROVE}), config,
                                                        durability="sync"))

        def ours(thread_id: str, interrupt_id: str) -> float:
            return seconds(lambda: service.decide(thread_id, interrupt_id, APPROVE, REVIEWER))

        samples: dict[str, list[float]] = {"bare": [], "ours": []}
        for round_number in range(args.rounds + WARMUP):
            pair = pending[2 * round_number: 2 * round_number + 2]
            order = [("bare", bare), ("ours", ours)][:: 1 if round_number % 2 else -1]  # alternate who goes first
            for (name, measure), item in zip(order, pair):
                if round_number >= WARMUP:
                    samples[name].append(measure(*item))
                else:
                    measure(*item)
        baseline_s, ours_s = median(samples["bare"]), median(samples["ours"])
        met = ours_s / baseline_s <= TARGET_RATIO
        report(f"Decision latency, median of {args.rounds}", backend_name(url),
               ("graph.invoke(Command(resume))", baseline_s), ("service.decide", ours_s),
               f"target: ours <= {TARGET_RATIO}x: {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
