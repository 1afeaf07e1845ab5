"""Provider ids and hosted-page addresses as long as Stripe makes them

Stripe documents its object ids as up to 255 characters (a Checkout Session's id is some 66
today) and a Checkout Session's URL runs to several hundred; the sandbox's fitted in 64 and 500.
On PostgreSQL widening a varchar rewrites nothing.

Revision ID: b7e31c5d9a24
Revises: a0d17c4e2b95
Create Date: 2026-12-05 23:40:00.000000
"""

import sqlalchemy as sa

from alembic import op

revision = "b7e31c5d9a24"
down_revision = "a0d17c4e2b95"
branch_labels = None
depends_on = None

#: (table, column, before, after)
WIDENED = (
    ("payment", "provider_payment_id", 64, 255),
    ("payment", "hosted_url", 500, 2048),
    ("refund", "provider_refund_id", 64, 255),
)


def upgrade() -> None:
    for table, column, before, after in WIDENED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column, existing_type=sa.String(length=before), type_=sa.String(length=after)
            )


def downgrade() -> None:
    for table, column, before, after in reversed(WIDENED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column, existing_type=sa.String(length=after), type_=sa.String(length=before)
            )
