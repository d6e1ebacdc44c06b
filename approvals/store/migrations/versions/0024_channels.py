"""Channels (email, Slack): where each account is reached, which outbox rows go to a person on a channel, and
the single-use action links that email carries.

Outbox rows keep their meaning: `channel` 'webhook' (every row before this revision) goes to APPROVAL_WEBHOOK_URL;
any other channel's row is one notification for one `recipient` (a username), sent by that channel's sender.

Revision ID: 0024
Revises: 0001
Create Date: 2026-12-03
"""

from alembic import op

revision = "0024"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENTS = [
    "ALTER TABLE accounts ADD COLUMN email TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE accounts ADD COLUMN slack_id TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'webhook'",
    "ALTER TABLE outbox ADD COLUMN recipient TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX IF NOT EXISTS outbox_channel_due ON outbox (channel, next_attempt_at)",
    # One row per action link mailed: what it is bound to, until when, and when it was used (once).
    """CREATE TABLE IF NOT EXISTS action_links (
        link_id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        interrupt_id TEXT NOT NULL,
        request_digest TEXT NOT NULL,
        action TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS action_links_expiry ON action_links (expires_at)",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)

