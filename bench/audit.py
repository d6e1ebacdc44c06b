"""The audit chain's cost: `service.decide` with the chain against the same call with the chain's two appends
(the decision's entry, the delivery's entry, each with its signed head and "audit.head" event) left out, same
run, same database; and `audit verify` over a chain of 100,000 entries, each with its signed head (the live
database, then an export file). The key is a fresh one in a temporary directory.

Targets: the chain adds <= 5% to a decision (medians); verify of 100,000 entries < 5 s.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from approvals.audit import chain, evidence, signing
from approvals.core.digest import canonical_json
from approvals.service import oversight
from approvals.store import audit_log
from approvals.store.database import Database
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
TARGET_RATIO = 1.05
VERIFY_TARGET_S = 5.0
INSERT_BATCH = 5000


@contextmanager
def chain_left_out() -> Iterator[None]:
    """The baseline: the same decide, minus the two appends (the pause check and everything else stay)."""
    saved = oversight.chain_decision, oversight.chain_delivery
    oversight.chain_decision = lambda *args: None
    oversight.chain_delivery = lambda *args: None
    try:
        yield
    finally:
        oversight.chain_decision, oversight.chain_delivery = saved


def decision_cost(url: str, rounds: int) -> None:
    with app_service(url) as service:
        pending = request_refunds(service, 2 * (rounds + WARMUP))

        def without(thread_id: str, interrupt_id: str) -> float:
            with chain_left_out():
                return seconds(lambda: service.decide(thread_id, interrupt_id, APPROVE, REVIEWER))

        def with_chain(thread_id: str, interrupt_id: str) -> float:
            return seconds(lambda: service.decide(thread_id, interrupt_id, APPROVE, REVIEWER))

        baseline_s, ours_s = paired_medians(pending, rounds, WARMUP, without, with_chain)
        report(f"Decision with the audit chain, median of {rounds}", backend_name(url),
               ("service.decide, chain left out", baseline_s), ("service.decide with the chain", ours_s),
               ratio_target(baseline_s, ours_s, TARGET_RATIO))


def fill_chain(db: Database, entries: int) -> None:
    """`entries` more delivery-sized entries after the head (no decision rows to hold them to), chained exactly
    as `append` chains them, written in large batches."""
    current = chain.head(db)
    first, prev = (current.seq + 1, current.hash) if current else (1, chain.GENESIS)
    last = first + entries - 1
    for start in range(first, last + 1, INSERT_BATCH):
        rows, heads = [], []
        for seq in range(start, min(start + INSERT_BATCH, last + 1)):
            approved = [{"name": "issue_refund", "args": {"order_id": str(seq), "amount": 25.0}}]
            event = {"type": "delivery", "thread_id": f"t{seq}", "interrupt_id": f"i{seq}", "decided_by": "alice",
                     "tool": "issue_refund", "executed": approved}
            entry = chain.chained(event, seq, prev)
            rows.append((seq, prev, entry["hash"], "delivery", entry["thread_id"], entry["interrupt_id"], None,
                         entry["recorded_at"], canonical_json(chain.without_hash(entry))))
            prev = entry["hash"]
            head = signing.signed(seq, prev)
            heads.append((head.seq, head.hash, head.signature, head.public_key, entry["recorded_at"]))
        with db.transaction() as tx:
            audit_log.insert_entries(tx, rows)
            audit_log.insert_heads(tx, heads)


def verify_cost(url: str, entries: int) -> None:
    with app_service(url) as service:
        fill_chain(service.db, entries)
        trusted = {signing.public_pem(signing.signing_key())}
        live_s = seconds(lambda: _expect_ok(evidence.verify_live(service.db)))
        out = io.StringIO()
        export_s = seconds(lambda: evidence.export(service.db, out))
        lines = out.getvalue().splitlines()
        file_s = seconds(lambda: _expect_ok(evidence.verify_export(lines, trusted)))
        backend = backend_name(url)
        for label, took in (("audit verify (live database)", live_s), ("audit export", export_s),
                            ("audit verify FILE", file_s)):
            verdict = "met" if took < VERIFY_TARGET_S else "MISSED"
            print(f"{label} over {entries} entries [{backend}]: {took:.2f} s (target < {VERIFY_TARGET_S:g} s: "
                  f"{verdict})")


def _expect_ok(problem: evidence.Problem | None) -> None:
    if problem is not None:
        raise SystemExit(f"the benchmark's own chain does not verify: {problem}")


def main() -> None:
    args = arguments(__doc__, rounds=100, entries=100_000)
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as keys:
        os.environ["APPROVAL_AUDIT_KEY"] = str(Path(keys) / "audit-key.pem")
        with fresh_database(args.database_url) as url:
            decision_cost(url, args.rounds)
        # a database of its own: the baseline's decisions were recorded with the chain left out, which verify
        # reports
        with fresh_database(_second(args.database_url)) as url:
            verify_cost(url, args.entries)


def _second(url: str | None) -> str | None:
    """Where the second fresh database goes: a new one on the same server, or a SQLite file beside the first."""
    return url if url is None or url.startswith(("postgresql://", "postgres://")) else f"{url}.verify.db"


if __name__ == "__main__":
    main()
