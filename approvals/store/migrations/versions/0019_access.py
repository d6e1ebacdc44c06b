"""Access hardening (issue 19): what a decision was checked under, session hand-offs, token expiry, known
devices, throttling per client, remembered demo seeding, and one-replica housekeeping.

Revision ID: 0019
Revises: 0001
Create Date: 2026-12-01
"""

from alembic import op

revision = "0019"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENTS = [
    # The policy the decider satisfied ("self" or "reviewer"): the graph refuses to run what needs more.
    "ALTER TABLE decisions ADD COLUMN clearance TEXT",
    # A sign-in waiting for its browser to fetch a new cookie: the old token never becomes the signed-in one.
    """CREATE TABLE IF NOT EXISTS sign_in_handoffs (
        code_hash TEXT PRIMARY KEY,
        from_token_hash TEXT NOT NULL,
        username TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    "ALTER TABLE api_tokens ADD COLUMN expires_at TEXT",
    # Browsers that signed in to an account before: failures made elsewhere never hold them back.
    """CREATE TABLE IF NOT EXISTS known_devices (
        device_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_used_at TEXT NOT NULL
    )""",
    "ALTER TABLE sign_in_failures ADD COLUMN client TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX IF NOT EXISTS sign_in_failures_client ON sign_in_failures (client, failed_at)",
    "CREATE INDEX IF NOT EXISTS sign_in_failures_time ON sign_in_failures (failed_at)",
    # Demo accounts ever created here: one that was removed is not created again.
    """CREATE TABLE IF NOT EXISTS demo_seeded (
        username TEXT PRIMARY KEY,
        seeded_at TEXT NOT NULL
    )""",
    # When each scheduled job last ran: a compare-and-set on its row picks the one replica that runs it.
    """CREATE TABLE IF NOT EXISTS housekeeping (
        job TEXT PRIMARY KEY,
        ran_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS sessions_seen ON sessions (last_seen_at)",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)

