"""The audit chain's tip is signed when the database upgrades: from this release on every append signs its head
and `audit verify` requires a signed tip, while earlier releases signed heads only when exporting.

Nothing else changes: the entries, and every head signed before, stay as they were and keep verifying.

Revision ID: 0025
Revises: 0024, 0021 (after the chain's tables exist)
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from approvals.audit import signing
from approvals.store.database import utcnow

revision = "0025"
down_revision = ("0024", "0021")
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    tip = bind.execute(sa.text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")).mappings().first()
    if tip is None:
        return
    head = signing.signed(int(tip["seq"]), tip["hash"])
    bind.execute(sa.text("INSERT INTO audit_heads (seq, hash, signature, public_key, signed_at) VALUES (:seq, :hash,"
                         " :signature, :public_key, :at) ON CONFLICT (seq, public_key) DO NOTHING"),
                 {"seq": head.seq, "hash": head.hash, "signature": head.signature, "public_key": head.public_key,
                  "at": utcnow()})


def downgrade() -> None:
    """Heads are evidence: a downgrade keeps them."""
