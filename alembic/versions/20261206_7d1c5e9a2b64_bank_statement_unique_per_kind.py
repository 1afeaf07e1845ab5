"""bank statements unique per account, kind and id

A bank numbers its camt.054 notifications apart from its camt.053 statements, so a
notification may carry the id of a statement: the id is unique per (account, kind), not per
account.

Revision ID: 7d1c5e9a2b64
Revises: 4b8d2e6f1a53
Create Date: 2026-12-06 01:30:00.000000
"""

from alembic import op

revision = "7d1c5e9a2b64"
down_revision = "4b8d2e6f1a53"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_statement") as batch:
        batch.drop_constraint("uq_bank_statement_account_iban_statement_id", type_="unique")
        batch.create_unique_constraint(
            "uq_bank_statement_account_iban_kind_statement_id",
            ["account_iban", "kind", "statement_id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("bank_statement") as batch:
        batch.drop_constraint("uq_bank_statement_account_iban_kind_statement_id", type_="unique")
        batch.create_unique_constraint(
            "uq_bank_statement_account_iban_statement_id", ["account_iban", "statement_id"]
        )
