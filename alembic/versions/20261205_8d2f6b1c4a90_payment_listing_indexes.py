"""Payments: the newest first from an index, and the few that need a clerk from a partial one

bench/town.py found the department's payments page sorting every payment of a town's year
(1.2 s) and scanning them all for those needing attention.

Revision ID: 8d2f6b1c4a90
Revises: 7c4e2a9d1f60
Create Date: 2026-12-05 01:00:00.000000
"""

import sqlalchemy as sa

from alembic import op

revision = "8d2f6b1c4a90"
down_revision = "7c4e2a9d1f60"
branch_labels = None
depends_on = None

NEEDS_ATTENTION = sa.text("needs_attention IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_payment_created", "payment", ["created_at", "id"])
    op.create_index(
        "ix_payment_needs_attention",
        "payment",
        ["created_at"],
        postgresql_where=NEEDS_ATTENTION,
        sqlite_where=NEEDS_ATTENTION,
    )


def downgrade() -> None:
    op.drop_index("ix_payment_needs_attention", table_name="payment")
    op.drop_index("ix_payment_created", table_name="payment")
