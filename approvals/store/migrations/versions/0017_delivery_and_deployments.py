"""Delivery of decisions, and Agent Server deployments as a source of items.

`decisions` gains what delivery needs: the last reason a resume did not take, how many tries, and when the next
one is due (also the lease one replica holds while it delivers). `pending` gains the deployment an item comes
from ('' for the app's own checkpointer) and the assistant to resume it with. `deployments` holds one row per
configured deployment: the polling cursor, the lease of the replica polling it, and its health for the console.

Revision ID: 0017
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0001"
branch_labels = None
depends_on = None

ADDED_COLUMNS = {
    "decisions": {
        "delivery_error": "TEXT NOT NULL DEFAULT ''",
        "delivery_attempts": "INTEGER NOT NULL DEFAULT 0",
        "next_delivery_at": "TEXT",
    },
    "pending": {"deployment": "TEXT NOT NULL DEFAULT ''", "assistant_id": "TEXT NOT NULL DEFAULT ''"},
}

DEPLOYMENTS = """
CREATE TABLE IF NOT EXISTS deployments (
    name TEXT PRIMARY KEY,
    cursor TEXT NOT NULL DEFAULT '',
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'unknown',
    error TEXT NOT NULL DEFAULT '',
    checked_at TEXT NOT NULL DEFAULT ''
)
"""


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, columns in ADDED_COLUMNS.items():
        present = {column["name"] for column in inspector.get_columns(table)}
        for name, definition in columns.items():
            if name not in present:
                op.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")
    op.execute(DEPLOYMENTS)
    op.execute("CREATE INDEX IF NOT EXISTS decisions_undelivered ON decisions (next_delivery_at)"
               " WHERE applied_at IS NULL")
    op.execute("CREATE INDEX IF NOT EXISTS pending_deployment ON pending (deployment, status)")
