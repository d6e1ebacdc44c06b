"""Runs graph work off the Streamlit script thread, at most one job per conversation at a time.

A rerun, a second click or a browser refresh starts a new script run; the job keeps going here. Jobs of one
conversation run in order, one at a time (a decision recorded while the agent works waits for it). Runs of the
built-in agent are also rows (approvals/service/runs.py): the scheduler's jobs renew this replica's leases on
them and hand it the runs of replicas that stopped renewing theirs (a crash, a restart), so every cut run is
finished by someone. The pool is sized for I/O-bound model calls (APPROVAL_MAX_RUNS), not for CPU cores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from approvals.core.runs import Run
from approvals.service.runs import RunService, max_runs


class BackgroundRunner:
    def __init__(self, max_workers: int | None = None, runs: RunService | None = None):
        """With `runs`, the runner also carries out run records (`start`)."""
        self.max_workers = max_workers or max_runs()
        self._executor = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="graph")
        self._jobs: dict[str, Future] = {}
        self._lock = threading.Lock()
        self._runs = runs
        if runs is not None:
            runs.dispatch = self.start  # every decision the service records goes to this runner

    def enqueue(self, thread_id: str, job: Callable[..., object], *args: object) -> None:
        """Run `job(*args)` after the conversation's current job: a decision recorded while the agent still works.

        No deadlock: a job only waits for one submitted before it, which the FIFO pool has already started.
        """
        with self._lock:
            previous = self._jobs.get(thread_id)
            self._jobs[thread_id] = self._executor.submit(_after, previous, job, args)

    def start(self, run: Run) -> None:
        """Carry out a recorded run when a slot is free; until then it shows as queued on every replica."""
        if self._runs is None:
            raise RuntimeError("this runner was made without a run service")
        self.enqueue(run.thread_id, self._runs.execute_run, run.run_id)

    def wait(self, thread_id: str, timeout: float | None = None) -> None:
        """Block until the conversation's job ends (tests and scripts; pages poll the run's row)."""
        with self._lock:
            job = self._jobs.get(thread_id)
        if job is not None:
            job.exception(timeout)

    def take_error(self, thread_id: str) -> BaseException | None:
        """The error of the finished job, reported once (the next call returns None)."""
        with self._lock:
            job = self._jobs.get(thread_id)
            if job is None or not job.done() or job.exception() is None:
                return None
            del self._jobs[thread_id]
            return job.exception()

    def shutdown(self) -> None:
        if self._runs is not None and self._runs.dispatch == self.start:
            self._runs.dispatch = None  # the service's next runs wait for a runner instead of a closed pool
        self._executor.shutdown(wait=True, cancel_futures=False)


def _after(previous: Future | None, job: Callable[..., object], args: tuple) -> object:
    if previous is not None:
        wait([previous])
    return job(*args)
