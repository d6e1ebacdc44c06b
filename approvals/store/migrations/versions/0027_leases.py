"""One leases table for all timed work: each scheduled job (discovery, delivery, the outbox, escalation,
housekeeping, ...) is taken by one replica per tick with a compare-and-set on its row. It replaces the
`housekeeping` table, which held the same thing for one job (its one row only said when the purge last ran: the
next start purges once more), and the polling lease each deployment's row held (the "deployments" job's lease
covers every deployment).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03
"""

from alembic import op

revision = "0027"
down_revision = ("0026", "0017", "0019")  # also after the tables it changes
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL,"
               " taken_at TEXT NOT NULL, due_at TEXT NOT NULL)")
    op.execute("DROP TABLE IF EXISTS housekeeping")
    for column in ("lease_owner", "lease_until"):
        op.execute(f"ALTER TABLE deployments DROP COLUMN {column}")


def downgrade() -> None:
    op.execute("CREATE TABLE IF NOT EXISTS housekeeping (job TEXT PRIMARY KEY, ran_at TEXT NOT NULL)")
    for column in ("lease_owner", "lease_until"):
        op.execute(f"ALTER TABLE deployments ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
    op.execute("DROP TABLE IF EXISTS leases")
