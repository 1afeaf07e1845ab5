"""receipts

Revision ID: dac71228af86
Revises: 43f458fdedc0
Create Date: 2026-11-25 01:11:45.746249
"""

import sqlalchemy as sa

import portal.db
from alembic import op

revision = "dac71228af86"
down_revision = "43f458fdedc0"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receipt_counter",
        sa.Column("series", sa.String(length=16), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", "fiscal_year", name=op.f("pk_receipt_counter")),
    )
    op.create_table(
        "receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("series", sa.String(length=16), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("verification_code", sa.String(length=16), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("payer_user_id", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("issued_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("emailed_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["payer_user_id"],
            ["user_account.id"],
            name=op.f("fk_receipt_payer_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_receipt_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refund.id"], name=op.f("fk_receipt_refund_id_refund")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt")),
        sa.UniqueConstraint("number", name=op.f("uq_receipt_number")),
        sa.UniqueConstraint("refund_id", name=op.f("uq_receipt_refund_id")),
        sa.UniqueConstraint(
            "series", "fiscal_year", "sequence", name=op.f("uq_receipt_series_fiscal_year_sequence")
        ),
        sa.UniqueConstraint("verification_code", name=op.f("uq_receipt_verification_code")),
    )
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_receipt_payer_user_id"), ["payer_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_receipt_payment_id"), ["payment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipt_payment_id"))
        batch_op.drop_index(batch_op.f("ix_receipt_payer_user_id"))

    op.drop_table("receipt")
    op.drop_table("receipt_counter")
