"""bank refunds by credit-transfer file; organisations pay by bank transfer themselves

A refund of a payment that came by bank transfer goes back by transfer: its payee's account
and name (``creditor_iban``, ``creditor_name``, and ``account_reason`` when a clerk chose
another account than the money came from) and the pain.001 file it was exported in
(``refund_transfer_file``). A bank transfer to an organisation's bills is the organisation's
payment, with no person: ``payment.payer_user_id`` may be NULL (one payer or the other is
always there), and its receipt is the organisation's (``document.owner_organisation_id``).

Revision ID: c7e3a9b5d218
Revises: a4f2c8e1d937
Create Date: 2026-12-06 04:00:00.000000
"""

import sqlalchemy as sa

import portal.db
from alembic import op

revision = "c7e3a9b5d218"
down_revision = "a4f2c8e1d937"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refund_transfer_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=35), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_index(
        "ix_refund_transfer_file_department_id", "refund_transfer_file", ["department_id"]
    )
    with op.batch_alter_table("refund") as batch:
        batch.add_column(sa.Column("creditor_iban", sa.String(length=34), nullable=True))
        batch.add_column(sa.Column("creditor_name", sa.String(length=140), nullable=True))
        batch.add_column(sa.Column("account_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("transfer_file_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_refund_transfer_file_id_refund_transfer_file",
            "refund_transfer_file",
            ["transfer_file_id"],
            ["id"],
        )
        batch.create_index("ix_refund_transfer_file_id", ["transfer_file_id"])
    with op.batch_alter_table("payment") as batch:
        batch.alter_column("payer_user_id", existing_type=sa.Integer(), nullable=True)
        batch.create_check_constraint(
            "has_payer", "payer_user_id IS NOT NULL OR payer_organisation_id IS NOT NULL"
        )
    with op.batch_alter_table("document") as batch:
        batch.add_column(sa.Column("owner_organisation_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_document_owner_organisation_id_organisation",
            "organisation",
            ["owner_organisation_id"],
            ["id"],
        )
        batch.create_index("ix_document_owner_organisation_id", ["owner_organisation_id"])
        batch.alter_column("owner_user_id", existing_type=sa.Integer(), nullable=True)
        batch.create_check_constraint(
            "has_owner", "owner_user_id IS NOT NULL OR owner_organisation_id IS NOT NULL"
        )


def downgrade() -> None:
    # an organisation's own payments and documents cannot be kept without a person
    op.execute("DELETE FROM document WHERE owner_user_id IS NULL")
    with op.batch_alter_table("document") as batch:
        batch.drop_constraint("has_owner", type_="check")
        batch.alter_column("owner_user_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_index("ix_document_owner_organisation_id")
        batch.drop_constraint("fk_document_owner_organisation_id_organisation", type_="foreignkey")
        batch.drop_column("owner_organisation_id")
    with op.batch_alter_table("payment") as batch:
        batch.drop_constraint("has_payer", type_="check")
        batch.alter_column("payer_user_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("refund") as batch:
        batch.drop_index("ix_refund_transfer_file_id")
        batch.drop_constraint("fk_refund_transfer_file_id_refund_transfer_file", type_="foreignkey")
        batch.drop_column("transfer_file_id")
        batch.drop_column("account_reason")
        batch.drop_column("creditor_name")
        batch.drop_column("creditor_iban")
    op.drop_index("ix_refund_transfer_file_department_id", "refund_transfer_file")
    op.drop_table("refund_transfer_file")
