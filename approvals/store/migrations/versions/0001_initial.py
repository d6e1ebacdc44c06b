"""The schema as it stood before migrations were versioned: every table of the app, created if missing.

A database made by an earlier release has these tables but no `alembic_version`; `IF NOT EXISTS` keeps its
rows, and the two columns added by hand before (threads.graph, pending.graph and pending.kind) are added when
they are missing.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    thread_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    requester TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    graph TEXT NOT NULL DEFAULT 'support'
);
CREATE INDEX IF NOT EXISTS threads_updated ON threads (updated_at);
CREATE INDEX IF NOT EXISTS threads_requester ON threads (requester, updated_at);  -- a person's own conversations
CREATE TABLE IF NOT EXISTS pending (
    thread_id TEXT NOT NULL,
    interrupt_id TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    requester TEXT NOT NULL,
    policy TEXT NOT NULL,
    args_summary TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    graph TEXT NOT NULL DEFAULT 'support',
    kind TEXT NOT NULL DEFAULT 'hitl',
    PRIMARY KEY (thread_id, interrupt_id)
);
CREATE INDEX IF NOT EXISTS pending_queue ON pending (status, created_at, thread_id);  -- the queue order: no sort step
CREATE TABLE IF NOT EXISTS decisions (
    decision_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    interrupt_id TEXT NOT NULL,
    decision TEXT NOT NULL,
    response TEXT NOT NULL,
    tool TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    edit_diff TEXT NOT NULL,
    message TEXT NOT NULL,
    applied_at TEXT,
    UNIQUE (thread_id, interrupt_id)
);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions (decided_at);
CREATE TABLE IF NOT EXISTS claims (
    thread_id TEXT NOT NULL,
    interrupt_id TEXT NOT NULL,
    claimed_by TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, interrupt_id)
);
CREATE TABLE IF NOT EXISTS accounts (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    signed_in INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (username);
CREATE TABLE IF NOT EXISTS sign_in_failures (
    username TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sign_in_failures_user ON sign_in_failures (username, failed_at);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    label TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS api_tokens_owner ON api_tokens (username, created_at);
CREATE TABLE IF NOT EXISTS outbox (
    event_id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at);  -- a sender's claim reads due rows only
CREATE TABLE IF NOT EXISTS ledger (
    tool_call_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    args TEXT NOT NULL,
    result TEXT NOT NULL,
    executed_at TEXT NOT NULL
);
"""

ADDED_COLUMNS = {
    "threads": {"graph": "TEXT NOT NULL DEFAULT 'support'"},
    "pending": {"graph": "TEXT NOT NULL DEFAULT 'support'", "kind": "TEXT NOT NULL DEFAULT 'hitl'"},
}


def upgrade() -> None:
    for statement in filter(str.strip, SCHEMA.split(";")):
        op.execute(statement)
    inspector = sa.inspect(op.get_bind())
    for table, columns in ADDED_COLUMNS.items():
        present = {column["name"] for column in inspector.get_columns(table)}
        for name, definition in columns.items():
            if name not in present:
                op.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")
