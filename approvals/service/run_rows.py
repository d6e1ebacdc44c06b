"""The shape of a run's row, which the decision command writes in its own transaction (the runner carries it out).

Why here and not in runs.py: the decision command (decisions.py) queues the run that delivers a decision in the
same commit as the decision, and runs.py builds on the decision service, so the row's shape lives below both.
The statements that read and write the rows are in approvals/store/runs.py.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import fields
from datetime import datetime, timedelta

from approvals.core.runs import Run, RunKind, RunState
from approvals.store.database import Row, iso

LEASE_SECONDS = float(os.environ.get("APPROVAL_RUN_LEASE_S", "5"))
"""How long a run stays its replica's without a heartbeat; then another replica takes it over."""


def new_replica_id() -> str:
    """Unique per process start, so a restarted process never mistakes its dead predecessor's runs for live ones."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def lease_until(now: datetime, seconds: float | None = None) -> str:
    return iso(now + timedelta(seconds=LEASE_SECONDS if seconds is None else seconds))


def run_of(row: Row) -> Run:
    return Run(**{f.name: row[f.name] for f in fields(Run)})


def new_row(thread_id: str, kind: RunKind, requester: str, replica: str, now: datetime, *, input: str = "",
            decision_id: str | None = None, state: RunState = "queued", lease_seconds: float | None = None) -> Row:
    """A run owned by `replica`; "running" with a longer lease when the caller carries it out at once."""
    return {
        "run_id": uuid.uuid4().hex, "thread_id": thread_id, "kind": kind, "state": state, "requester": requester,
        "input": input, "decision_id": decision_id, "replica": replica, "heartbeat_at": iso(now),
        "lease_until": lease_until(now, lease_seconds), "attempts": 1, "error": "", "created_at": iso(now),
        "started_at": iso(now) if state == "running" else None, "ended_at": None,
    }
