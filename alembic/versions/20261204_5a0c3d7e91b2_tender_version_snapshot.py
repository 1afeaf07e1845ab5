"""Tender versions: a snapshot of the published fields, for OCDS releases that never change

Nullable: versions recorded before it have none (their releases show the tender as it is).

Revision ID: 5a0c3d7e91b2
Revises: 635d7f4c5313
Create Date: 2026-12-04 16:40:00.000000
"""

import sqlalchemy as sa

from alembic import op

revision = "5a0c3d7e91b2"
down_revision = "635d7f4c5313"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tender_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("snapshot_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tender_version", schema=None) as batch_op:
        batch_op.drop_column("snapshot_json")
