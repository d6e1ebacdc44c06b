"""Agent Server deployments: listing N interrupted threads, a quiet poll, and the lag from a pause to the queue.

Against a real `langgraph dev` (tests/deployment_server.py) with `--threads` interrupted threads:
- listing them all: ours (the first poll: list and index every item) against a bare paged
  `threads.search(status="interrupted")` that only fetches them;
- a quiet poll (nothing changed): its requests and milliseconds (target: at most 2 requests);
- the lag from a new pause (the run has ended, the thread is interrupted) to the item in our queue, with the
  polling job the app runs: median and worst of `--lag-rounds` (target: under 5 s).
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)
sys.path.insert(1, str(ROOT / "tests"))

from deployment_server import langgraph_dev

from approvals.service.facade import ApprovalService
from approvals.service.scheduler import Scheduler, deployments_job
from approvals.sources.deployments import PAGE, Deployment, Remote
from approvals.store.schema import open_store
from bench.common import REVIEWER, arguments, backend_name, fresh_database, median, report, seconds

LAG_TARGET_S = 5.0


def pause_many(remote: Remote, count: int) -> None:
    """`count` threads paused at a raw interrupt: runs started without waiting, then the server's count watched
    (joining a run that ended long ago can hang on langgraph dev's in-memory queue)."""
    for _ in range(count):
        remote.start_run("question", {})
    while remote.count() < count:
        time.sleep(0.2)


def bare_listing(remote: Remote) -> int:
    """The baseline: every interrupted thread fetched, page by page, and nothing else done with them."""
    return len(remote.interrupted())


def lag_once(service: ApprovalService, remote: Remote) -> float:
    """Seconds from the end of a run that paused to its item in the queue (the polling job is running)."""
    thread_id, run_id = remote.start_run("question", {})
    remote.wait(thread_id, run_id)
    paused = time.perf_counter()
    while not any(i.thread_id == thread_id for i in service.list_pending(limit=100_000, viewer=REVIEWER)):
        time.sleep(0.01)
    return time.perf_counter() - paused


def main() -> None:
    args = arguments(__doc__ or "", threads=1000, lag_rounds=20)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # `timeout` stops us: the server is stopped with us
    with tempfile.TemporaryDirectory(prefix="bench-lgdev-") as directory, \
            langgraph_dev(Path(directory), Path(directory) / "effects.txt") as base, \
            fresh_database(args.database_url) as url:
        remote = Remote(Deployment("bench", base))
        pause_many(remote, args.threads)
        store = open_store(url)
        try:
            service = ApprovalService(store, remotes={"bench": remote.deployment})
            service.remotes["bench"] = remote
            baseline_s = seconds(lambda: bare_listing(remote))
            ours_s = seconds(lambda: service.poll_deployment("bench"))
            listed = service.count_pending(viewer=REVIEWER)
            report(f"Listing {args.threads} interrupted threads of a langgraph dev ({listed} indexed, pages of {PAGE})",
                   backend_name(url), ("threads.search pages only", baseline_s), ("first poll, indexed", ours_s),
                   "no target: the index write is the difference")
            quiet_ms, quiet_requests = quiet_poll(service)
            print(f"  quiet poll: {quiet_requests} requests, {quiet_ms:.1f} ms"
                  f" (target: <= 2 requests: {'met' if quiet_requests <= 2 else 'MISSED'})")
            lags = lags_with_the_loop(service, remote, args.lag_rounds)
            print(f"  lag pause -> queue: median {median(lags):.2f} s, worst {max(lags):.2f} s of {len(lags)}"
                  f" (target: < {LAG_TARGET_S:g} s: {'met' if max(lags) < LAG_TARGET_S else 'MISSED'})")
        finally:
            store.close()


def quiet_poll(service: ApprovalService) -> tuple[float, int]:
    """Median ms and worst request count of 5 polls when nothing changed."""
    samples, requests = [], 0
    for _ in range(5):
        started = time.perf_counter()
        requests = max(requests, service.poll_deployment("bench"))
        samples.append((time.perf_counter() - started) * 1000)
    return median(samples), requests


def lags_with_the_loop(service: ApprovalService, remote: Remote, rounds: int) -> list[float]:
    loop = Scheduler(service.db, [deployments_job(service)], service.replica).start()
    try:
        lags = []
        for _ in range(rounds):
            lags.append(lag_once(service, remote))
            time.sleep(0.1 + (len(lags) % 7) / 10)  # pauses land at different points of the job's second
        return lags
    finally:
        loop.stop()


if __name__ == "__main__":
    main()
