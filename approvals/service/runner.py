"""Runs graph work off the Streamlit script thread, at most one job per conversation at a time.

A rerun, a second click or a browser refresh starts a new script run; the job keeps going here, and any
session can ask whether it is still running and how it ended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait


class BackgroundRunner:
    def __init__(self, max_workers: int = 4):
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="graph")
        self._jobs: dict[str, Future] = {}
        self._lock = threading.Lock()

    def submit(self, thread_id: str, job: Callable[..., object], *args: object) -> bool:
        """Start `job(*args)` for this conversation unless one is already running; False means it was not started."""
        with self._lock:
            if (running := self._jobs.get(thread_id)) is not None and not running.done():
                return False
            self._jobs[thread_id] = self._executor.submit(job, *args)
            return True

    def enqueue(self, thread_id: str, job: Callable[..., object], *args: object) -> None:
        """Run `job(*args)` after the conversation's current job: a decision recorded while the agent still works.

        No deadlock: a job only waits for one submitted before it, which the FIFO pool has already started.
        """
        with self._lock:
            previous = self._jobs.get(thread_id)
            self._jobs[thread_id] = self._executor.submit(_after, previous, job, args)

    def is_running(self, thread_id: str) -> bool:
        with self._lock:
            job = self._jobs.get(thread_id)
        return job is not None and not job.done()

    def wait(self, thread_id: str, timeout: float | None = None) -> None:
        """Block until the conversation's job ends (tests and scripts; pages poll `is_running`)."""
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
        self._executor.shutdown(wait=True, cancel_futures=False)


def _after(previous: Future | None, job: Callable[..., object], args: tuple) -> object:
    if previous is not None:
        wait([previous])
    return job(*args)
