"""Runs at scale: N conversations started at once against a model that takes a fixed time per call.

Each conversation asks for a refund; the agent's one model call (ChatOpenAI against the OpenAI-compatible
server in tests/openai_compatible.py, which waits --delay-ms before it answers) proposes `issue_refund`, and the
run stops for approval. Timed: from the first start until every card can be drawn, i.e. the service sees each
thread's pending item. The ideal is one model round trip (the baseline: one bare ChatOpenAI call to the same
server, same run), since the conversations are independent and the model is I/O. Two engines:

- in-process: the app's path, `start_message` (the run's row) then the `BackgroundRunner` (APPROVAL_MAX_RUNS);
- `langgraph dev`: the `support` graph of langgraph.json on a local Agent Server, runs created with
  langgraph-sdk, done once `threads.search(status="interrupted")` lists every thread.

Target: in-process, N = 12 within 1.5x the ideal. The last line is that ratio.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)
sys.path.insert(1, str(ROOT / "tests"))

from concurrent.futures import ThreadPoolExecutor

from langchain_core.messages import HumanMessage
from langgraph_sdk import get_sync_client
from openai_compatible import OpenAICompatibleServer, serve

from approvals.service.facade import ApprovalService
from approvals.service.runner import BackgroundRunner
from approvals.store.schema import open_store
from bench.common import (
    REQUESTER,
    REVIEWER,
    arguments,
    backend_name,
    fresh_database,
    median,
    ratio_target,
    report,
)
from graphs import build_graph
from graphs.models import load_model

TARGET = 1.5
TIMEOUT_S = 300.0


def refund(number: int) -> str:
    return f"Refund order {number} for $25"


def ideal_seconds() -> float:
    """One model round trip, as the agent's ChatOpenAI makes it (median of three)."""
    model = load_model()
    samples = []
    for number in range(3):
        started = time.perf_counter()
        model.invoke([HumanMessage(refund(number))])
        samples.append(time.perf_counter() - started)
    return median(samples)


def in_process_seconds(url: str, count: int) -> float:
    """Start `count` conversations through the app's service and runner; seconds until each has its card."""
    store = open_store(url)
    service = ApprovalService(store, build_graph(store.checkpointer, load_model(), ledger=store.ledger))
    runner = BackgroundRunner(runs=service)
    try:
        _in_process_round(service, runner, 1)  # warm-up: imports, connections, the first checkpoint tables
        return _in_process_round(service, runner, count)
    finally:
        runner.shutdown()
        store.close()


def _in_process_round(service: ApprovalService, runner: BackgroundRunner, count: int) -> float:
    already = service.count_pending(viewer=REVIEWER)
    started = time.perf_counter()
    at_once(count, lambda number: runner.start(service.start_message(service.new_thread_id(), refund(number),
                                                                     REQUESTER)))
    while service.count_pending(viewer=REVIEWER) < already + count:
        _check_deadline(started)
        time.sleep(0.005)
    return time.perf_counter() - started


@contextmanager
def langgraph_dev(model: OpenAICompatibleServer, jobs: int) -> Iterator[str]:
    """`langgraph dev` on a free port, serving this project's langgraph.json with the model server's env."""
    port = _free_port()
    env = {**os.environ, **model.env(), "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-dev-") as scratch, open(Path(scratch) / "dev.log", "w") as log:
        process = subprocess.Popen(
            ["langgraph", "dev", "--host", "127.0.0.1", "--port", str(port), "--no-browser", "--no-reload",
             "--n-jobs-per-worker", str(jobs)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(process, f"{base}/ok", Path(scratch) / "dev.log")
            yield base
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"langgraph dev exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"langgraph dev did not come up:\n{log.read_text()}")


def langgraph_dev_seconds(base: str, count: int) -> float:
    """Start `count` runs of `support` on the Agent Server; seconds until the server lists each as interrupted."""
    client = get_sync_client(url=base)
    _dev_round(client, 1)  # warm-up: the graph is loaded on first use
    return _dev_round(client, count)


def _dev_round(client: object, count: int) -> float:
    tag = uuid.uuid4().hex
    started = time.perf_counter()

    def start(number: int) -> None:
        thread = client.threads.create(metadata={"bench": tag})  # type: ignore[attr-defined]
        client.runs.create(thread["thread_id"], "support",  # type: ignore[attr-defined]
                           input={"messages": [{"role": "user", "content": refund(number)}]})

    at_once(count, start)
    search = client.threads.search  # type: ignore[attr-defined]
    while len(search(status="interrupted", metadata={"bench": tag}, limit=count)) < count:
        _check_deadline(started)
        time.sleep(0.01)
    return time.perf_counter() - started


def at_once(count: int, start: Callable[[int], object]) -> None:
    """N requesters pressing Enter at the same moment: each start on its own thread, all awaited."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(start, range(count)))


def _check_deadline(started: float) -> None:
    if time.perf_counter() - started > TIMEOUT_S:
        raise SystemExit(f"not every card arrived within {TIMEOUT_S:.0f} s")


def main() -> None:
    args = arguments(__doc__, conversations=12, many=50, delay_ms=1000, skip_server=0)
    sizes = [args.conversations, args.many]
    with serve(delay=args.delay_ms / 1000) as model:
        os.environ.update(model.env())
        ideal = ideal_seconds()
        label = f"one model round trip ({args.delay_ms} ms delay)"
        if not args.skip_server:
            with langgraph_dev(model, max(sizes)) as base:
                for count in sizes:
                    model.peak = 0
                    took = langgraph_dev_seconds(base, count)
                    report(f"{count} conversations at once, on langgraph dev", "in-memory server", (label, ideal),
                           (f"every thread interrupted (threads.search); {model.peak} model calls at once", took),
                           ratio_target(ideal, took, TARGET))
        with fresh_database(args.database_url) as url:
            for count in reversed(sizes):  # N = 12 last: the script's last line is its ratio
                model.peak = 0
                took = in_process_seconds(url, count)
                report(f"{count} conversations at once, in-process", backend_name(url), (label, ideal),
                       (f"every card's pending item seen by the service; {model.peak} model calls at once", took),
                       ratio_target(ideal, took, TARGET))


if __name__ == "__main__":
    main()
