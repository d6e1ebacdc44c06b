"""Rows of the runs table that the decision command writes in its own transaction (the runner carries them out).

Why here and not in runs.py: the decision command (decisions.py) queues the run that delivers a decision in the
same commit as the decision, and runs.py builds on the decision service, so the row's shape lives below both.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import fields
from datetime import datetime, timedelta

from approvals.core.runs import ACTIVE_STATES, Run, RunKind, RunState
from approvals.store.database import Row, Transaction, iso, utcnow

LEASE_SECONDS = float(os.environ.get("APPROVAL_RUN_LEASE_S", "5"))
"""How long a run stays its replica's without a heartbeat; then another replica takes it over."""
ACTIVE = f"state IN ({', '.join(repr(state) for state in ACTIVE_STATES)})"


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


def insert(tx: Transaction, row: Row) -> bool:
    """False when the thread has an active run already (the partial unique index decides, across replicas)."""
    return bool(tx.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
                           " ON CONFLICT DO NOTHING", list(row.values())))


def end_decision_runs(tx: Transaction, thread_id: str, decision_id: str, error: str = "") -> None:
    """The decision reached the agent (or definitely did not this time): its run ends in the same commit, so the
    thread is free for the next decision the moment the new index rows are visible (found by the thread's index)."""
    tx.execute(f"UPDATE runs SET state = ?, error = ?, ended_at = ? WHERE thread_id = ? AND decision_id = ?"
               f" AND {ACTIVE}", ("failed" if error else "done", error[:1000], utcnow(), thread_id, decision_id))


def waiting_decision(tx: Transaction, thread_id: str) -> Row | None:
    """A decision of the thread recorded while another run held it (several interrupts decided at once): it has
    no run yet, and the run ending now hands the thread over to it."""
    rows = tx.query("SELECT decision_id, requested_by FROM decisions d WHERE thread_id = ? AND applied_at IS NULL"
                    " AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = d.thread_id"
                    " AND r.decision_id = d.decision_id)"
                    " ORDER BY decided_at LIMIT 1", (thread_id,))
    return rows[0] if rows else None
