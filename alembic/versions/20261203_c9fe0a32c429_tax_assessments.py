"""tax assessments

A property has one assessment in force a year: the tax office's assessments are recorded with
the property and the year, unique among those in force (a correction takes the place of the
one it corrects), and their instalment bills linked to them. Bills imported before carry no
property, so the rule holds for assessments from now on.

Revision ID: c9fe0a32c429
Revises: 4ab524729394
Create Date: 2026-12-03 08:12:24.931596
"""

import sqlalchemy as sa

import portal.db
from alembic import op

revision = "c9fe0a32c429"
down_revision = "4ab524729394"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tax_assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("property_ref", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("corrects_id", sa.Integer(), nullable=True),
        sa.Column("corrected_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["corrects_id"],
            ["tax_assessment.id"],
            name=op.f("fk_tax_assessment_corrects_id_tax_assessment"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_tax_assessment_service_id_service")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_assessment")),
        sa.UniqueConstraint(
            "service_id", "number", name=op.f("uq_tax_assessment_service_id_number")
        ),
    )
    with op.batch_alter_table("tax_assessment", schema=None) as batch_op:
        batch_op.create_index(
            "uq_tax_assessment_in_force",
            ["service_id", "property_ref", "year"],
            unique=True,
            sqlite_where=sa.text("corrected_at IS NULL"),
            postgresql_where=sa.text("corrected_at IS NULL"),
        )

    op.create_table(
        "tax_assessment_bill",
        sa.Column("bill_id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["tax_assessment.id"],
            name=op.f("fk_tax_assessment_bill_assessment_id_tax_assessment"),
        ),
        sa.ForeignKeyConstraint(
            ["bill_id"],
            ["bill.id"],
            name=op.f("fk_tax_assessment_bill_bill_id_bill"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bill_id", name=op.f("pk_tax_assessment_bill")),
    )
    with op.batch_alter_table("tax_assessment_bill", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tax_assessment_bill_assessment_id"), ["assessment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tax_assessment_bill", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tax_assessment_bill_assessment_id"))

    op.drop_table("tax_assessment_bill")
    with op.batch_alter_table("tax_assessment", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_tax_assessment_in_force",
            sqlite_where=sa.text("corrected_at IS NULL"),
            postgresql_where=sa.text("corrected_at IS NULL"),
        )

    op.drop_table("tax_assessment")
