"""Bank statements (camt.053/camt.054) and their credit lines, each posted once, with the
bills each line was matched to

Revision ID: 4b8d2e6f1a53
Revises: e5a7c3d91f20
Create Date: 2026-12-06 00:52:00.000000
"""

import sqlalchemy as sa

import portal.db
from alembic import op

revision = "4b8d2e6f1a53"
down_revision = "e5a7c3d91f20"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_statement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("statement_id", sa.String(length=35), nullable=False),
        sa.Column("account_iban", sa.String(length=34), nullable=False),
        sa.Column("imported_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("imported_by_id", sa.Integer(), nullable=True),
        sa.Column("credits", sa.Integer(), nullable=False),
        sa.Column("new_credits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"]),
        sa.ForeignKeyConstraint(["imported_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_iban", "statement_id"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_index("ix_bank_statement_department_id", "bank_statement", ["department_id"])
    op.create_table(
        "bank_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("servicer_reference", sa.String(length=35), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column("creditor_reference", sa.String(length=35), nullable=False),
        sa.Column("remittance", sa.String(length=140), nullable=False),
        sa.Column("debtor_name", sa.String(length=140), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["decided_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"]),
        sa.ForeignKeyConstraint(["statement_id"], ["bank_statement.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_index("ix_bank_line_statement_id", "bank_line", ["statement_id"])
    op.create_index("ix_bank_line_department_booked", "bank_line", ["department_id", "booked_on"])
    op.create_table(
        "bank_line_match",
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("bill_id", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["bill_id"], ["bill.id"]),
        sa.ForeignKeyConstraint(["line_id"], ["bank_line.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["payment_id"], ["payment.id"]),
        sa.PrimaryKeyConstraint("line_id", "bill_id"),
    )
    op.create_index("ix_bank_line_match_bill_id", "bank_line_match", ["bill_id"])


def downgrade() -> None:
    op.drop_index("ix_bank_line_match_bill_id", table_name="bank_line_match")
    op.drop_table("bank_line_match")
    op.drop_index("ix_bank_line_department_booked", table_name="bank_line")
    op.drop_index("ix_bank_line_statement_id", table_name="bank_line")
    op.drop_table("bank_line")
    op.drop_index("ix_bank_statement_department_id", table_name="bank_statement")
    op.drop_table("bank_statement")
