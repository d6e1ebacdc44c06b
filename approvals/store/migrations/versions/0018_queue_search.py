"""The queue in human terms (issue 18): each pending row keeps its arguments (for the queue's fixed columns), its
amount (to sort by) and a lower-cased search text (tool, arguments, requester, conversation title).

Rows indexed before this revision get empty values; `reconcile()` (or the thread's next change) fills them in.

Revision ID: 0018
Revises: 0001
Create Date: 2026-12-01
"""

from alembic import op

revision = "0018"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENTS = [
    "ALTER TABLE pending ADD COLUMN args TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE pending ADD COLUMN amount REAL",
    "ALTER TABLE pending ADD COLUMN search TEXT NOT NULL DEFAULT ''",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for column in ("search", "amount", "args"):
        op.execute(f"ALTER TABLE pending DROP COLUMN {column}")
