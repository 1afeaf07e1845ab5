"""refund transitions and deposits

Every change of a refund's state gets a ``refund_transition`` row (when, why, who), as payments
have; existing refunds have no history before this. ``deposit``: money a payer lodges, held
until it is released or forfeited.

Revision ID: 02fdd7ecb88a
Revises: 618ca3d4ab1d
Create Date: 2026-12-03 12:26:53.581286
"""

import sqlalchemy as sa

import portal.db
from alembic import op

revision = "02fdd7ecb88a"
down_revision = "618ca3d4ab1d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deposit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("bill_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=300), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["bill_id"], ["bill.id"], name=op.f("fk_deposit_bill_id_bill")),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["user_account.id"], name=op.f("fk_deposit_closed_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refund.id"], name=op.f("fk_deposit_refund_id_refund")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit")),
        sa.UniqueConstraint("bill_id", name=op.f("uq_deposit_bill_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_deposit_public_id")),
    )
    op.create_table(
        "refund_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("refund_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("cause", sa.String(length=200), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_refund_transition_actor_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"],
            ["refund.id"],
            name=op.f("fk_refund_transition_refund_id_refund"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_transition")),
    )
    with op.batch_alter_table("refund_transition", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_refund_transition_refund_id"), ["refund_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("refund_transition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refund_transition_refund_id"))

    op.drop_table("refund_transition")
    op.drop_table("deposit")
