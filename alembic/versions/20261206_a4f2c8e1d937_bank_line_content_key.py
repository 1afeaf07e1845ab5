"""bank lines known by the bank's reference or by their content

A credit without the bank's reference (AcctSvcrRef) was known by the payer's end-to-end id,
amount and date alone, which merged two payers' identical fees that both say "NOTPROVIDED",
and a credit with the reference in one file and without it in the other was recorded twice.
Now ``dedupe_key`` is the bank's reference only (NULL without one) and ``content_key`` names
what the credit says, numbered among the identical credits of its file; the payer's account
(``debtor_iban``) is kept too, as part of that and as where a refund goes back to.

Revision ID: a4f2c8e1d937
Revises: 7d1c5e9a2b64
Create Date: 2026-12-06 03:00:00.000000
"""

import hashlib
from collections import Counter

import sqlalchemy as sa

from alembic import op

revision = "a4f2c8e1d937"
down_revision = "7d1c5e9a2b64"
branch_labels = None
depends_on = None


def _digest(*parts: str) -> str:
    # as portal.billing.camt._digest at this revision
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("bank_line") as batch:
        batch.add_column(sa.Column("content_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("debtor_iban", sa.String(34), server_default="", nullable=False))
        batch.alter_column("dedupe_key", existing_type=sa.String(64), nullable=True)
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT l.id, s.account_iban, l.statement_id, l.servicer_reference,"
            " l.end_to_end_id, l.amount_minor, l.currency, l.booked_on, l.debtor_name,"
            " l.creditor_reference, l.remittance"
            " FROM bank_line l JOIN bank_statement s ON s.id = l.statement_id ORDER BY l.id"
        )
    ).all()
    occurrences: Counter = Counter()
    for row in rows:
        booked = row.booked_on if isinstance(row.booked_on, str) else row.booked_on.isoformat()
        parts = (
            row.end_to_end_id,
            str(row.amount_minor),
            row.currency,
            booked,
            "",
            row.debtor_name,
            row.creditor_reference,
            row.remittance,
        )
        same = (row.statement_id, _digest(row.account_iban, "content", *parts, "0"))
        occurrences[same] += 1
        content = _digest(row.account_iban, "content", *parts, str(occurrences[same]))
        connection.execute(
            sa.text(
                "UPDATE bank_line SET content_key = :content,"
                " dedupe_key = CASE WHEN servicer_reference = '' THEN NULL ELSE dedupe_key END"
                " WHERE id = :id"
            ),
            {"content": content, "id": row.id},
        )
    with op.batch_alter_table("bank_line") as batch:
        batch.alter_column("content_key", existing_type=sa.String(64), nullable=False)
        batch.alter_column("debtor_iban", existing_type=sa.String(34), server_default=None)
        batch.create_index("ix_bank_line_content_key", ["content_key"])
        batch.create_index(
            "ix_bank_line_content_unreferenced",
            ["content_key"],
            unique=True,
            postgresql_where=sa.text("dedupe_key IS NULL"),
            sqlite_where=sa.text("dedupe_key IS NULL"),
        )


def downgrade() -> None:
    connection = op.get_bind()
    # a line without the bank's reference gets a key again (its content key is unique there)
    connection.execute(
        sa.text("UPDATE bank_line SET dedupe_key = content_key WHERE dedupe_key IS NULL")
    )
    with op.batch_alter_table("bank_line") as batch:
        batch.drop_index("ix_bank_line_content_unreferenced")
        batch.drop_index("ix_bank_line_content_key")
        batch.alter_column("dedupe_key", existing_type=sa.String(64), nullable=False)
        batch.drop_column("debtor_iban")
        batch.drop_column("content_key")
