"""texts per language beside the texts that come from data

A JSON object of translations by locale name beside each text a citizen reads that comes from
the database rather than the catalogue: a service's name and description, a department's name,
a fee's label, a bill's description and its lines' (portal.localized). Empty for existing rows:
they read in the default language, as before.

Revision ID: 3f6a9c2d8e15
Revises: c7e3a9b5d218
Create Date: 2026-12-07 09:00:00.000000
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "3f6a9c2d8e15"
down_revision = "c7e3a9b5d218"
branch_labels = None
depends_on = None

#: (table, column) of each new column
COLUMNS = (
    ("service", "name_translations"),
    ("service", "description_translations"),
    ("department", "name_translations"),
    ("fee_schedule", "label_translations"),
    ("bill", "description_translations"),
    ("bill_line", "description_translations"),
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
