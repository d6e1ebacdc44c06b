"""Runs: one row per piece of agent work (a message to answer, a decision to deliver), whichever replica does it.

A replica records a run before it starts it, so work cut off by a crash is found and taken over. The row is the
run's whole shared state (owner replica, lease, state, attempts), so each write here is a compare-and-set on what
the writer believes it owns (`replica`, an active state, the lease it saw): a replica that lost a run to a
take-over changes nothing. At most one active run per thread is the partial unique index's job (`insert_run`
answers False), not a lock's, so it holds across replicas on both backends.
"""

from __future__ import annotations

from approvals.core.runs import ACTIVE_STATES
from approvals.store.database import Queries, Row


def has_runs(q: Queries, thread_id: str) -> bool:
    """Whether the thread has any run recorded (whether it ran here or on APPROVAL_RUNS_ON)."""
    return bool(q.query("SELECT 1 FROM runs WHERE thread_id = ? LIMIT 1", (thread_id,)))


ACTIVE = f"state IN ({', '.join(repr(state) for state in ACTIVE_STATES)})"
"""A run still queued or running: the only ones a replica may renew, start, finish or take over."""


def insert_run(q: Queries, row: Row) -> bool:
    """False when the thread has an active run already (the partial unique index decides, across replicas)."""
    return bool(q.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
                          " ON CONFLICT DO NOTHING", list(row.values())))


def find_run(q: Queries, run_id: str) -> Row | None:
    rows = q.query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
    return rows[0] if rows else None


def latest_run(q: Queries, thread_id: str) -> Row | None:
    rows = q.query("SELECT * FROM runs WHERE thread_id = ? ORDER BY created_at DESC LIMIT 1", (thread_id,))
    return rows[0] if rows else None


def queued_ahead(q: Queries, replica: str, created_at: str) -> int:
    """How many runs wait on `replica` that were queued before `created_at`."""
    return int(q.query("SELECT COUNT(*) AS n FROM runs WHERE state = 'queued' AND replica = ? AND created_at < ?",
                       (replica, created_at))[0]["n"])


def renew_leases(q: Queries, replica: str, now: str, lease_until: str) -> int:
    """The heartbeat of `replica`'s active runs; returns how many it renewed."""
    return q.execute(f"UPDATE runs SET heartbeat_at = ?, lease_until = ? WHERE replica = ? AND {ACTIVE}",
                     (now, lease_until, replica))


def expired_runs(q: Queries, now: str) -> list[Row]:
    """Active runs whose lease ran out before `now`, oldest first."""
    return q.query(f"SELECT * FROM runs WHERE {ACTIVE} AND lease_until < ? ORDER BY created_at", (now,))


def take_over_run(q: Queries, row: Row, replica: str, now: str, lease_until: str) -> bool:
    """The cut run `row` (as `expired_runs` read it) queued again for `replica`, one more attempt; False when
    another replica took it first or its owner renewed it meanwhile."""
    return bool(q.execute(
        "UPDATE runs SET replica = ?, state = 'queued', heartbeat_at = ?, lease_until = ?,"
        " attempts = attempts + 1"
        f" WHERE run_id = ? AND replica = ? AND lease_until = ? AND {ACTIVE}",
        (replica, now, lease_until, row["run_id"], row["replica"], row["lease_until"]),
    ))


def start_run(q: Queries, run_id: str, replica: str, now: str, lease_until: str) -> bool:
    """Mark `replica`'s queued run running; False when it is no longer its (taken over, or already ended)."""
    return bool(q.execute(
        "UPDATE runs SET state = 'running', started_at = ?, heartbeat_at = ?, lease_until = ?"
        f" WHERE run_id = ? AND replica = ? AND {ACTIVE}",
        (now, now, lease_until, run_id, replica),
    ))


def finish_run(q: Queries, run_id: str, replica: str, error: str, now: str) -> None:
    """The run ended ("failed" with a non-empty `error`, else "done"), if it is still `replica`'s."""
    q.execute(f"UPDATE runs SET state = ?, error = ?, ended_at = ? WHERE run_id = ? AND replica = ? AND {ACTIVE}",
              ("failed" if error else "done", error[:1000], now, run_id, replica))


def end_decision_runs(q: Queries, thread_id: str, decision_id: str, error: str, now: str) -> None:
    """The active run delivering `decision_id` ended, whichever replica holds it."""
    q.execute(f"UPDATE runs SET state = ?, error = ?, ended_at = ? WHERE thread_id = ? AND decision_id = ?"
              f" AND {ACTIVE}", ("failed" if error else "done", error[:1000], now, thread_id, decision_id))
