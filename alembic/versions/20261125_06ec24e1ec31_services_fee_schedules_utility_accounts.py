"""services: fee schedules, utility accounts, late payment interest charges

Revision ID: 06ec24e1ec31
Revises: 36fc527f1b7a
Create Date: 2026-11-25 01:13:28.599141
"""

import sqlalchemy as sa

import portal.db
from alembic import op

revision = "06ec24e1ec31"
down_revision = "36fc527f1b7a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fee_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_fee_schedule_created_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_schedule")),
        sa.UniqueConstraint(
            "service_code",
            "item_code",
            "effective_from",
            name=op.f("uq_fee_schedule_service_code_item_code_effective_from"),
        ),
    )
    with op.batch_alter_table("fee_schedule", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fee_schedule_service_code"), ["service_code"], unique=False
        )

    op.create_table(
        "utility_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("customer_number", sa.String(length=64), nullable=False),
        sa.Column("payer_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payer_user_id"],
            ["user_account.id"],
            name=op.f("fk_utility_account_payer_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_utility_account_service_id_service")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_utility_account")),
        sa.UniqueConstraint(
            "service_id",
            "customer_number",
            name=op.f("uq_utility_account_service_id_customer_number"),
        ),
    )
    with op.batch_alter_table("utility_account", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_utility_account_payer_user_id"), ["payer_user_id"], unique=False
        )

    op.create_table(
        "late_interest",
        sa.Column("bill_id", sa.Integer(), nullable=False),
        sa.Column("tax_bill_id", sa.Integer(), nullable=False),
        sa.Column("accrued_to", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("rate_percent", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["bill_id"], ["bill.id"], name=op.f("fk_late_interest_bill_id_bill"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tax_bill_id"], ["bill.id"], name=op.f("fk_late_interest_tax_bill_id_bill")
        ),
        sa.PrimaryKeyConstraint("bill_id", name=op.f("pk_late_interest")),
    )
    with op.batch_alter_table("late_interest", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_late_interest_tax_bill_id"), ["tax_bill_id"], unique=False
        )

    op.create_table(
        "utility_bill",
        sa.Column("bill_id", sa.Integer(), nullable=False),
        sa.Column("utility_account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bill_id"], ["bill.id"], name=op.f("fk_utility_bill_bill_id_bill"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["utility_account_id"],
            ["utility_account.id"],
            name=op.f("fk_utility_bill_utility_account_id_utility_account"),
        ),
        sa.PrimaryKeyConstraint("bill_id", name=op.f("pk_utility_bill")),
    )
    with op.batch_alter_table("utility_bill", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_utility_bill_utility_account_id"), ["utility_account_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("utility_bill", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_utility_bill_utility_account_id"))

    op.drop_table("utility_bill")
    with op.batch_alter_table("late_interest", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_late_interest_tax_bill_id"))

    op.drop_table("late_interest")
    with op.batch_alter_table("utility_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_utility_account_payer_user_id"))

    op.drop_table("utility_account")
    with op.batch_alter_table("fee_schedule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fee_schedule_service_code"))

    op.drop_table("fee_schedule")
