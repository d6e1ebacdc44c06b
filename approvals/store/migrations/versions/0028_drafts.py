"""Drafts: a reviewer's work in progress in the console (an open edit form's values, the rows ticked for bulk, an
open bulk confirmation), kept per browser session (the hash of its cookie's token, as `sessions` stores it) so a
reload brings it back. Never in the URL: edited values there would end up in browser history and server logs.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-03
"""

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

STATEMENTS = [
    # kind: "edit" (one item's open edit form), "tick" (one ticked row), "bulk" (the open bulk confirmation, with
    # thread_id and interrupt_id ''). digest: the request digest the draft was made against ('' for "bulk").
    """CREATE TABLE IF NOT EXISTS drafts (
        session_hash TEXT NOT NULL,
        username TEXT NOT NULL,
        kind TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        interrupt_id TEXT NOT NULL,
        digest TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (session_hash, kind, thread_id, interrupt_id)
    )""",
    "CREATE INDEX IF NOT EXISTS drafts_item ON drafts (thread_id, interrupt_id)",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS drafts")
