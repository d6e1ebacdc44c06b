"""Approval policy cost: evaluating the rules for one request, and re-evaluating the whole queue after a reload,
against `service.decide` in the same run and on the same database.

Per request: `Policy.verdict` over the shipped approvals.toml (a CEL condition on the refund amount) for a mix
of refunds, emails and deletions; target <= 2% of one decision (median). Reload: parsing a changed file plus
re-evaluating and rewriting 10,000 pending items (`reevaluate`); target < 1 s.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from approvals.core.policy import Policy
from approvals.core.policy_file import parse_policy
from approvals.service.facade import ApprovalService
from approvals.service.policy import reevaluate
from approvals.store.database import Database, utcnow
from bench.common import (
    APPROVE,
    REQUESTER,
    REVIEWER,
    app_service,
    arguments,
    backend_name,
    fresh_database,
    seconds,
    waiting_interrupt,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "approvals.toml"
PER_REQUEST_TARGET = 0.02
RELOAD_TARGET_S = 1.0
CANDIDATE = """
[[rules]]
name = "small-refunds"
tool = "issue_refund"
when = "args.amount <= 50.0"
decide = "self"

[[rules]]
name = "big-refunds"
tool = "issue_refund"
when = "args.amount > 1000.0"
approvers = 2
groups = ["finance"]

[[rules]]
name = "everything-else"
"""


def sample_requests(count: int, rng: random.Random) -> list[list[tuple[str, dict]]]:
    """What agents ask for: mostly refunds of varied amounts, some emails and deletions."""
    requests = []
    for _ in range(count):
        pick = rng.random()
        if pick < 0.7:
            call = ("issue_refund", {"order_id": str(rng.randint(1, 9999)), "amount": round(rng.uniform(1, 5000), 2)})
        elif pick < 0.9:
            call = ("send_email", {"to": "jo@example.com", "subject": "Delay", "body": "Sorry."})
        else:
            call = ("delete_customer", {"customer_id": str(rng.randint(1, 999))})
        requests.append([call])
    return requests


def per_request_seconds(policy: Policy, requests: list[list[tuple[str, dict]]]) -> float:
    """Median over batches of the mean time of one `verdict` call."""
    batch = 500
    samples = []
    for start in range(0, len(requests), batch):
        chunk = requests[start:start + batch]
        began = time.perf_counter()
        for actions in chunk:
            policy.verdict(actions, "support", "carol")
        samples.append((time.perf_counter() - began) / len(chunk))
    return statistics.median(samples)


def seed_pending(db: Database, requests: list[list[tuple[str, dict]]]) -> None:
    """Pending index rows as the app writes them (with the call each one asks for), without running 10,000 agents."""
    now = utcnow()
    rows = [(uuid.uuid4().hex, "i-1", "c-1", actions[0][0], "carol", "reviewer", "", now, json.dumps(actions))
            for actions in requests]
    with db.transaction() as tx:
        tx.executemany("INSERT INTO pending (thread_id, interrupt_id, checkpoint_id, tool, requester, policy,"
                       " args_summary, created_at, status, actions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                       rows)


def main() -> None:
    args = arguments(__doc__, decisions=30, requests=20_000, pending=10_000)
    rng = random.Random(20)
    shipped = parse_policy(SHIPPED.read_text(), str(SHIPPED))
    with fresh_database(args.database_url) as url, app_service(url) as service:
        backend = backend_name(url)
        decide_s = decision_seconds(service, args.decisions)
        evaluate_s = per_request_seconds(shipped, sample_requests(args.requests, rng))
        share = evaluate_s / decide_s
        print(f"Policy evaluation per request (shipped approvals.toml), median [{backend}]")
        print(f"  baseline  service.decide: {decide_s * 1000:.2f} ms")
        print(f"  ours      Policy.verdict: {evaluate_s * 1e6:.1f} us")
        print(f"  ratio     {share:.2%} of a decision (target: <= {PER_REQUEST_TARGET:.0%}: "
              f"{'met' if share <= PER_REQUEST_TARGET else 'MISSED'})")
        seed_pending(service.db, sample_requests(args.pending, rng))
        reevaluate(service.db, shipped)  # the queue as indexed under the shipped file
        reload_s = seconds(lambda: reevaluate(service.db, parse_policy(CANDIDATE, "candidate.toml")))
        print(f"Reload: parse a changed file and re-evaluate {args.pending} pending items [{backend}]")
        print(f"  ours      {reload_s:.3f} s ({reload_s / args.pending * 1e6:.0f} us per item)")
        print(f"  target    < {RELOAD_TARGET_S:g} s: {'met' if reload_s < RELOAD_TARGET_S else 'MISSED'}")


def decision_seconds(service: ApprovalService, count: int) -> float:
    """Median `service.decide` of a reviewer's approval, each on its own fresh $250 refund."""
    samples = []
    for _ in range(count):
        thread_id = service.new_thread_id()
        service.send_message(thread_id, "Refund order 1234 for $250", REQUESTER)
        interrupt_id = waiting_interrupt(service, thread_id)
        started = time.perf_counter()
        service.decide(thread_id, interrupt_id, APPROVE, REVIEWER)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples[3:] or samples)


if __name__ == "__main__":
    main()
