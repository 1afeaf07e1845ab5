"""refund of one bill

A refund may name the one bill of its payment it gives money back on (a rejected
application's fee), so it is never booked against another bill paid in the same payment.

Revision ID: 4ab524729394
Revises: d99be2994c53
Create Date: 2026-12-01 20:33:35.709034
"""

import sqlalchemy as sa

from alembic import op

revision = "4ab524729394"
down_revision = "d99be2994c53"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bill_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_refund_bill_id_bill"), "bill", ["bill_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_refund_bill_id_bill"), type_="foreignkey")
        batch_op.drop_column("bill_id")
