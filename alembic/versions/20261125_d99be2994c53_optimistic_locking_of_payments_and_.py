"""optimistic locking of payments and refunds

Revision ID: d99be2994c53
Revises: 06ec24e1ec31
Create Date: 2026-11-25 01:45:34.580227
"""

import sqlalchemy as sa

from alembic import op

revision = "d99be2994c53"
down_revision = "06ec24e1ec31"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))

    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:

    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_column("version")

    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_column("version")
