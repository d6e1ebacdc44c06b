"""Runs: one row per piece of agent work (a message to answer, a decision to deliver), whichever replica does it.

A replica records a run before it starts it, so work cut off by a crash is found and taken over.
"""

from __future__ import annotations

from approvals.store.database import Queries


def has_runs(q: Queries, thread_id: str) -> bool:
    """Whether the thread has any run recorded (whether it ran here or on APPROVAL_RUNS_ON)."""
    return bool(q.query("SELECT 1 FROM runs WHERE thread_id = ? LIMIT 1", (thread_id,)))
