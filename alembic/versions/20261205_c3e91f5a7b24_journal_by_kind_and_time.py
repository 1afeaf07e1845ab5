"""Ledger transactions found by kind and time: the clerks' reports sum a period's settled
payments and refunds without reading the whole journal

Revision ID: c3e91f5a7b24
Revises: b3e9f04a7c21
Create Date: 2026-12-05 23:50:00.000000
"""

from alembic import op

revision = "c3e91f5a7b24"
down_revision = "b3e9f04a7c21"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_journal_transaction_kind_created", "journal_transaction", ["kind", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_journal_transaction_kind_created", table_name="journal_transaction")
