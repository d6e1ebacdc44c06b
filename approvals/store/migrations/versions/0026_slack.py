"""Slack: each message posted about an item (so it can be updated when the item is decided), and the signatures
of the interactivity requests seen within Slack's 5-minute window (so a replayed request is refused).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03
"""

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

STATEMENTS = [
    # One row per chat.postMessage: where it went (the channel Slack answered with, and the ts naming it there),
    # whom or what it was addressed to (a user id, or APPROVAL_SLACK_CHANNEL), and the blocks it showed.
    """CREATE TABLE IF NOT EXISTS slack_messages (
        channel TEXT NOT NULL,
        ts TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        interrupt_id TEXT NOT NULL,
        address TEXT NOT NULL,
        event TEXT NOT NULL,
        blocks TEXT NOT NULL,
        posted_at TEXT NOT NULL,
        PRIMARY KEY (channel, ts)
    )""",
    "CREATE INDEX IF NOT EXISTS slack_messages_item ON slack_messages (thread_id, interrupt_id)",
    """CREATE TABLE IF NOT EXISTS slack_requests_seen (
        signature TEXT PRIMARY KEY,
        seen_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS slack_requests_seen_at ON slack_requests_seen (seen_at)",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)
