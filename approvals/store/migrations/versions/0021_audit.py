"""The audit chain, its signed heads, the stop switch, when reviewers open items, and each item's request digest.

Decisions made before this revision join the chain in decided_at order (marked `"imported": true`), so `audit
verify` can hold every decision row to an entry from the first day on.

Revision ID: 0021
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from approvals.audit.chain import GENESIS, chained, without_hash
from approvals.audit.events import row_fields
from approvals.core.digest import canonical_json

revision = "0021"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq {seq_type} PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    type TEXT NOT NULL,
    thread_id TEXT,
    interrupt_id TEXT,
    decision_id TEXT,
    recorded_at TEXT NOT NULL,
    entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_decision ON audit_log (decision_id);
CREATE TABLE IF NOT EXISTS audit_heads (
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    signature TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signed_at TEXT NOT NULL,
    PRIMARY KEY (seq, public_key)
);
CREATE TABLE IF NOT EXISTS paused_targets (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    paused_by TEXT NOT NULL,
    paused_at TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS item_opens (
    thread_id TEXT NOT NULL,
    interrupt_id TEXT NOT NULL,
    opened_by TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, interrupt_id, opened_by)
);
ALTER TABLE pending ADD COLUMN request_digest TEXT NOT NULL DEFAULT ''
"""


def upgrade() -> None:
    # Every index costs each decision's commit a page: the seq is the table's own key (SQLite's rowid), and
    # the only other index serves the delivery entry's look-up of its decision. An export --since scans.
    seq_type = "INTEGER" if op.get_bind().dialect.name == "sqlite" else "BIGINT"
    for statement in filter(str.strip, SCHEMA.format(seq_type=seq_type).split(";")):
        op.execute(statement)
    _chain_earlier_decisions(op.get_bind())


def _chain_earlier_decisions(bind: sa.Connection) -> None:
    rows = bind.execute(sa.text("SELECT * FROM decisions ORDER BY decided_at, decision_id")).mappings().all()
    prev = GENESIS
    for seq, row in enumerate(rows, start=1):
        event = {
            "type": "decision", "imported": True, "recorded_at": row["decided_at"],
            **row_fields(dict(row)),
        }
        entry = chained(event, seq, prev)
        bind.execute(
            sa.text("INSERT INTO audit_log (seq, prev_hash, hash, type, thread_id, interrupt_id, decision_id,"
                    " recorded_at, entry) VALUES (:seq, :prev, :hash, 'decision', :thread, :interrupt, :decision,"
                    " :at, :entry)"),
            {"seq": seq, "prev": prev, "hash": entry["hash"], "thread": row["thread_id"],
             "interrupt": row["interrupt_id"], "decision": row["decision_id"], "at": row["decided_at"],
             "entry": canonical_json(without_hash(entry))},
        )
        prev = entry["hash"]

