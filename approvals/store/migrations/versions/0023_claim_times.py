"""When each reviewer first claimed an item: the claims row only says who holds it until when, and is deleted
when the item is decided or let go, so the review pane's timeline ("claimed by alice at 14:01") needs its own
record that outlives the claim.

Revision ID: 0023
Revises: 0001
Create Date: 2026-12-01
"""

from alembic import op

revision = "0023"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE IF NOT EXISTS claim_starts (thread_id TEXT NOT NULL, interrupt_id TEXT NOT NULL,"
               " claimed_by TEXT NOT NULL, claimed_at TEXT NOT NULL,"
               " PRIMARY KEY (thread_id, interrupt_id, claimed_by))")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS claim_starts")
