"""Four-eyes approval requests; bills written off

A refund, a write-off or a paid application's cancellation above the department's threshold
waits for a second clerk in ``approval_request``; the database refuses a decision by the person
who asked (CHECK four_eyes) and a second open request about the same thing (partial unique
index). A bill written off keeps when and why.

Revision ID: 4e1a9c7b2d35
Revises: 4641374531f6
Create Date: 2026-12-05 23:30:00.000000
"""

import sqlalchemy as sa

import portal.db
from alembic import op

revision = "4e1a9c7b2d35"
down_revision = "4641374531f6"
branch_labels = None
depends_on = None

AWAITING = sa.text("status = 'awaiting'")


def upgrade() -> None:
    op.create_table(
        "approval_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "decided_by_id IS NULL OR decided_by_id <> requested_by_id",
            name=op.f("ck_approval_request_four_eyes"),
        ),
        sa.CheckConstraint(
            "(status = 'awaiting' AND decided_by_id IS NULL AND decided_at IS NULL)"
            " OR (status IN ('approved', 'rejected')"
            " AND decided_by_id IS NOT NULL AND decided_at IS NOT NULL)",
            name=op.f("ck_approval_request_decided_by_someone"),
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_approval_request_positive")),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["user_account.id"],
            name=op.f("fk_approval_request_decided_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_approval_request_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["user_account.id"],
            name=op.f("fk_approval_request_requested_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_request")),
        sa.UniqueConstraint("public_id", name=op.f("uq_approval_request_public_id")),
    )
    op.create_index(
        "ix_approval_request_one_awaiting",
        "approval_request",
        ["kind", "subject"],
        unique=True,
        postgresql_where=AWAITING,
        sqlite_where=AWAITING,
    )
    op.create_index(
        "ix_approval_request_department",
        "approval_request",
        ["department_id", "status", "requested_at"],
    )
    with op.batch_alter_table("bill", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("written_off_at", portal.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("write_off_reason", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bill", schema=None) as batch_op:
        batch_op.drop_column("write_off_reason")
        batch_op.drop_column("written_off_at")
    op.drop_index("ix_approval_request_department", table_name="approval_request")
    op.drop_index("ix_approval_request_one_awaiting", table_name="approval_request")
    op.drop_table("approval_request")
