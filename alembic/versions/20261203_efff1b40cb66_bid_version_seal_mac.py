"""Bid versions: the seal's MAC, binding each sealed bid's hash to its place

Nullable, as the column is added to existing rows; the opening accepts no version without
one (``portal.procurement.opening``).

Revision ID: efff1b40cb66
Revises: d0bc914ba78c
Create Date: 2026-12-03 17:21:05.460462
"""

import sqlalchemy as sa

from alembic import op

revision = "efff1b40cb66"
down_revision = "d0bc914ba78c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bid_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seal_mac", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bid_version", schema=None) as batch_op:
        batch_op.drop_column("seal_mac")
