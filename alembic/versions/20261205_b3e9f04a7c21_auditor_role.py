"""The auditor role: reads the audit log and nothing else (the IdP's ``auditor`` group)

Revision ID: b3e9f04a7c21
Revises: a0d17c4e2b95
Create Date: 2026-12-05 23:40:00.000000
"""

import sqlalchemy as sa

from alembic import op

revision = "b3e9f04a7c21"
down_revision = "a0d17c4e2b95"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_auditor", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # the rows that existed have their value: the model gives new rows theirs
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.alter_column("is_auditor", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("is_auditor")
