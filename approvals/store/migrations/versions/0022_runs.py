"""Runs as records: each run of a conversation (queued, running, done, failed), its replica, heartbeat and lease.

At most one run per thread is active: a partial unique index refuses a second queued or running run, on every
replica, in the database itself.

Revision ID: 0022
Revises: 0001
Create Date: 2026-12-02
"""

from alembic import op

revision = "0022"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    requester TEXT NOT NULL,
    input TEXT NOT NULL DEFAULT '',
    decision_id TEXT,
    replica TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    lease_until TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_one_active ON runs (thread_id) WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS runs_thread ON runs (thread_id, created_at);
CREATE INDEX IF NOT EXISTS runs_leases ON runs (state, lease_until)
"""


def upgrade() -> None:
    for statement in filter(str.strip, SCHEMA.split(";")):
        op.execute(statement)
