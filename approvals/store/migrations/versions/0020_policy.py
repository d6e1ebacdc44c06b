"""Approval policy: one row per approval of a multi-approver item, escalation steps, groups on accounts, and the
rule and policy version on every pending item and decision.

`approvals` is UNIQUE per item and approver: each approval is its own compare-and-set. Its `generation` counts
edits: an edit starts a new generation, and only approvals of the current one count.

Revision ID: 0020
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE IF NOT EXISTS approvals (
    thread_id TEXT NOT NULL,
    interrupt_id TEXT NOT NULL,
    approver TEXT NOT NULL,
    generation INTEGER NOT NULL,
    decision TEXT NOT NULL,
    response TEXT NOT NULL,
    edit_diff TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    rule TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    UNIQUE (thread_id, interrupt_id, approver)
);
CREATE TABLE IF NOT EXISTS escalations (
    thread_id TEXT NOT NULL,
    interrupt_id TEXT NOT NULL,
    step TEXT NOT NULL,
    happened_at TEXT NOT NULL,
    rule TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (thread_id, interrupt_id, step)
);
CREATE INDEX IF NOT EXISTS escalations_time ON escalations (happened_at)
"""

COLUMNS = {
    "accounts": {"groups": "TEXT NOT NULL DEFAULT ''"},
    "decisions": {"rule": "TEXT NOT NULL DEFAULT ''", "policy_version": "TEXT NOT NULL DEFAULT ''"},
    "pending": {"actions": "TEXT NOT NULL DEFAULT '[]'", "rule": "TEXT NOT NULL DEFAULT ''",
                "approvers": "INTEGER NOT NULL DEFAULT 1", "approved_by": "TEXT NOT NULL DEFAULT ''"},
}

DEMO_GROUPS = {"alice": "finance", "bob": "support"}


def upgrade() -> None:
    for statement in filter(str.strip, TABLES.split(";")):
        op.execute(statement)
    inspector = sa.inspect(op.get_bind())
    for table, columns in COLUMNS.items():
        present = {column["name"] for column in inspector.get_columns(table)}
        for name, definition in columns.items():
            if name not in present:
                op.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")
    for username, groups in DEMO_GROUPS.items():  # an existing demo database gets the README's demo groups
        op.execute(sa.text("UPDATE accounts SET groups = :groups WHERE username = :username AND groups = ''")
                   .bindparams(groups=groups, username=username))
