"""texts per language beside the texts the portal writes itself for its clerks

A case's title ("Payment 1a2b3c4d", "Bank credit 120,00 € of 5 Dec 2026") and an approval
request's description ("Write-off of bill WATER/2026-17") are written by the portal, in each
language, beside the default (English) text that the audit trail and the search keep
(portal.localized). Empty for existing rows: they read as they were written, as before.

Revision ID: 8d2e6f1a4b73
Revises: 3f6a9c2d8e15
Create Date: 2026-12-07 10:00:00.000000
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "8d2e6f1a4b73"
down_revision = "3f6a9c2d8e15"
branch_labels = None
depends_on = None

#: (table, column) of each new column
COLUMNS = (
    ("work_case", "title_translations"),
    ("approval_request", "description_translations"),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        op.add_column(
            table,
            sa.Column(
                column,
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                server_default=sa.text("'{}'"),
                nullable=False,
            ),
        )


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
