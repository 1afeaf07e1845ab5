"""refund transitions without an actor

Only the provider's answer moves a refund on, so ``refund_transition.actor_id`` was never
set; who asked for a refund is ``refund.requested_by_id``.

Revision ID: 5b0e3f7c2d1a
Revises: 02fdd7ecb88a
Create Date: 2026-12-03 13:52:00.000000
"""

import sqlalchemy as sa

from alembic import op

revision = "5b0e3f7c2d1a"
down_revision = "02fdd7ecb88a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refund_transition", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_refund_transition_actor_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_column("actor_id")


def downgrade() -> None:
    with op.batch_alter_table("refund_transition", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_refund_transition_actor_id_user_account"),
            "user_account",
            ["actor_id"],
            ["id"],
        )
