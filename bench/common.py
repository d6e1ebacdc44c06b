"""What every benchmark shares: where the database lives, the service on it, and how figures are printed.

A benchmark always runs on a database of its own: a fresh SQLite file by default, or a fresh database created
on the PostgreSQL server named by --database-url / DATABASE_URL (dropped afterwards; needs CREATEDB).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from approvals.core.actors import Actor
from approvals.identity.accounts import seed_demo_accounts
from approvals.service.facade import ApprovalService
from approvals.store.schema import Store, open_store
from graphs import build_graph
from graphs.models import ScriptedChatModel

REVIEWER = Actor("alice", "reviewer")
REQUESTER = Actor("carol", "requester")
APPROVE = {"decisions": [{"type": "approve"}]}
REFUND = "Refund order 1234 for $25"

Measure = Callable[[str, str], float]
"""Times one decision on (thread_id, interrupt_id), in seconds."""


def arguments(description: str, **sizes: int) -> argparse.Namespace:
    """--database-url plus one integer option per size (e.g. rounds=50 gives --rounds, default 50)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="PostgreSQL server to create a fresh database on, or a new SQLite file path "
                             "(default: DATABASE_URL, else a fresh SQLite file in a temporary directory)")
    for name, default in sizes.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=default)
    return parser.parse_args()


@contextmanager
def fresh_database(url: str | None) -> Iterator[str]:
    """A database nobody else uses, removed afterwards (a given SQLite path must not exist yet)."""
    if url and url.startswith(("postgresql://", "postgres://")):
        with _fresh_postgres(url) as fresh:
            yield fresh
    elif url:
        if Path(url.removeprefix("sqlite:///")).exists():
            raise SystemExit(f"{url} exists; benchmarks need a fresh database")
        yield url
    else:
        with tempfile.TemporaryDirectory(prefix="bench-") as directory:
            yield str(Path(directory) / "bench.db")


@contextmanager
def _fresh_postgres(server_url: str) -> Iterator[str]:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def app_service(url: str) -> Iterator[ApprovalService]:
    """The service exactly as the app builds it, but with the offline model: we time our code, not an LLM."""
    store: Store = open_store(url)
    seed_demo_accounts(store.db)  # the browser benchmarks sign in as carol and alice, who must exist
    try:
        yield ApprovalService(store, build_graph(store.checkpointer, ScriptedChatModel(), ledger=store.ledger))
    finally:
        store.close()


def request_refunds(service: ApprovalService, count: int) -> list[tuple[str, str]]:
    """`count` guests' refunds waiting for approval, made through the real graph: (thread_id, interrupt_id)."""
    pending = []
    for _ in range(count):
        thread_id = service.new_thread_id()
        service.send_message(thread_id, REFUND, REQUESTER)
        pending.append((thread_id, waiting_interrupt(service, thread_id)))
    return pending


def waiting_interrupt(service: ApprovalService, thread_id: str) -> str:
    """The interrupt the thread waits on; a seed that did not pause would measure something else, so it stops."""
    pending = service.pending_approval(thread_id, viewer=REVIEWER)
    if pending is None:
        raise RuntimeError(f"thread {thread_id} did not pause for approval")
    return pending.interrupt_id


def paired_medians(pending: list[tuple[str, str]], rounds: int, warmup: int, baseline: Measure,
                   ours: Measure) -> tuple[float, float]:
    """Median seconds of `baseline` and `ours`, each deciding its own fresh item per round.

    They alternate who goes first, so a slow patch of the (shared, noisy) machine hits both alike; the first
    `warmup` rounds are not counted. Needs 2 * (rounds + warmup) pending items.
    """
    samples: tuple[list[float], list[float]] = ([], [])
    for round_number in range(rounds + warmup):
        pair = pending[2 * round_number: 2 * round_number + 2]
        order = [(0, baseline), (1, ours)][:: 1 if round_number % 2 else -1]
        for (side, measure), item in zip(order, pair, strict=True):
            took = measure(*item)
            if round_number >= warmup:
                samples[side].append(took)
    return median(samples[0]), median(samples[1])


def seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def report(title: str, backend: str, baseline: tuple[str, float], ours: tuple[str, float], target: str,
           speedup: bool = False) -> None:
    """Baseline, ours and their ratio (ours/baseline, or baseline/ours when `speedup`), as the README records."""
    (baseline_label, baseline_s), (ours_label, ours_s) = baseline, ours
    ratio = f"{baseline_s / ours_s:.0f}x faster" if speedup else f"{ours_s / baseline_s:.2f}x the baseline"
    print(f"{title} [{backend}]")
    print(f"  baseline  {baseline_label}: {_duration(baseline_s)}")
    print(f"  ours      {ours_label}: {_duration(ours_s)}")
    print(f"  ratio     {ratio} ({target})")


def ratio_target(baseline_s: float, ours_s: float, limit: float) -> str:
    """The target line for "ours at most `limit` times the baseline", saying whether this run met it."""
    return f"target: ours <= {limit}x: {'met' if ours_s / baseline_s <= limit else 'MISSED'}"


def backend_name(url: str) -> str:
    return "postgres" if url.startswith(("postgresql://", "postgres://")) else "sqlite"


def _duration(value: float) -> str:
    return f"{value * 1000:.2f} ms" if value < 10 else f"{value:.2f} s"
