"""refund lines

A refund names the bills it gives money back on, with an amount per bill, in ``refund_line``
rows; ``refund.bill_id`` (one bill, or none for "spread over the bills, the last paid first")
is replaced by them. Existing refunds get their lines from what was posted to the ledger, or
from their one bill, or (not yet posted, no bill) from the spread the old code would post.

Revision ID: ae5c1507f4d1
Revises: c9fe0a32c429
Create Date: 2026-12-03 07:47:24.825877
"""

import sqlalchemy as sa

from alembic import op

revision = "ae5c1507f4d1"
down_revision = "c9fe0a32c429"
branch_labels = None
depends_on = None

refund = sa.table(
    "refund",
    sa.column("id", sa.Integer),
    sa.column("payment_id", sa.Integer),
    sa.column("bill_id", sa.Integer),
    sa.column("amount_minor", sa.BigInteger),
)
refund_line = sa.table(
    "refund_line",
    sa.column("refund_id", sa.Integer),
    sa.column("bill_id", sa.Integer),
    sa.column("amount_minor", sa.BigInteger),
)
allocation = sa.table(
    "payment_allocation",
    sa.column("payment_id", sa.Integer),
    sa.column("bill_id", sa.Integer),
    sa.column("amount_minor", sa.BigInteger),
    sa.column("refunded_minor", sa.BigInteger),
)
transaction = sa.table(
    "journal_transaction", sa.column("id", sa.Integer), sa.column("idempotency", sa.String)
)
entry = sa.table(
    "journal_entry",
    sa.column("transaction_id", sa.Integer),
    sa.column("bill_id", sa.Integer),
    sa.column("amount_minor", sa.BigInteger),
)


def _lines_of(connection, row) -> list[tuple[int, int]]:
    """(bill id, amount) of one existing refund, as posted or as it would have been."""
    posted = connection.execute(
        sa.select(entry.c.bill_id, entry.c.amount_minor)
        .join(transaction, entry.c.transaction_id == transaction.c.id)
        .where(
            transaction.c.idempotency == f"refund:{row.id}:settled",
            entry.c.bill_id.is_not(None),
        )
    ).all()
    if posted:
        return [(bill_id, amount) for bill_id, amount in posted if amount > 0]
    if row.bill_id is not None:
        return [(row.bill_id, row.amount_minor)]
    remaining, lines = row.amount_minor, []
    allocations = connection.execute(
        sa.select(allocation)
        .where(allocation.c.payment_id == row.payment_id)
        .order_by(allocation.c.bill_id.desc())
    ).all()
    for paid in allocations:
        share = min(remaining, paid.amount_minor - paid.refunded_minor)
        if share > 0:
            lines.append((paid.bill_id, share))
            remaining -= share
    return lines


def upgrade() -> None:
    op.create_table(
        "refund_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("refund_id", sa.Integer(), nullable=False),
        sa.Column("bill_id", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_refund_line_positive")),
        sa.ForeignKeyConstraint(["bill_id"], ["bill.id"], name=op.f("fk_refund_line_bill_id_bill")),
        sa.ForeignKeyConstraint(
            ["refund_id"],
            ["refund.id"],
            name=op.f("fk_refund_line_refund_id_refund"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_line")),
        sa.UniqueConstraint("refund_id", "bill_id", name=op.f("uq_refund_line_refund_id_bill_id")),
    )
    with op.batch_alter_table("refund_line", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refund_line_bill_id"), ["bill_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_refund_line_refund_id"), ["refund_id"], unique=False)

    connection = op.get_bind()
    for row in connection.execute(sa.select(refund).order_by(refund.c.id)).all():
        lines = _lines_of(connection, row)
        if lines:
            connection.execute(
                refund_line.insert(),
                [{"refund_id": row.id, "bill_id": b, "amount_minor": a} for b, a in lines],
            )

    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_refund_bill_id_bill"), type_="foreignkey")
        batch_op.drop_column("bill_id")


def downgrade() -> None:
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bill_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_refund_bill_id_bill"), "bill", ["bill_id"], ["id"]
        )
    # a refund of one bill names it again; one over several bills goes back to being spread
    single = (
        sa.select(refund_line.c.refund_id)
        .group_by(refund_line.c.refund_id)
        .having(sa.func.count() == 1)
    )
    op.execute(
        refund.update()
        .where(refund.c.id.in_(single))
        .values(
            bill_id=sa.select(refund_line.c.bill_id)
            .where(refund_line.c.refund_id == refund.c.id)
            .scalar_subquery()
        )
    )
    with op.batch_alter_table("refund_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refund_line_refund_id"))
        batch_op.drop_index(batch_op.f("ix_refund_line_bill_id"))
    op.drop_table("refund_line")
