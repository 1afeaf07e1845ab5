"""bid drafts encrypted

A bid's draft is kept encrypted under the portal's personal-data key: the price and answers in
one ``bid.draft_sealed`` blob (replacing ``draft_price_minor`` and ``draft_answers_json``), a
draft document's name in ``filename_sealed`` and its bytes in ``content``; the hash of a draft
document's clear bytes is no longer kept. A migration does not hold the key, so drafts in
clear cannot be encrypted here: they are removed (bidders type and attach them again;
submitted bids, sealed in ``bid_version``, are untouched). Going down removes them likewise.

Revision ID: d0bc914ba78c
Revises: 9b69e24142fe
Create Date: 2026-12-03 17:02:03.303076
"""

import sqlalchemy as sa

from alembic import op

revision = "d0bc914ba78c"
down_revision = "9b69e24142fe"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM bid_draft_document")
    with op.batch_alter_table("bid", schema=None) as batch_op:
        batch_op.add_column(sa.Column("draft_sealed", sa.LargeBinary(), nullable=True))
        batch_op.drop_column("draft_answers_json")
        batch_op.drop_column("draft_price_minor")

    with op.batch_alter_table("bid_draft_document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("filename_sealed", sa.LargeBinary(), nullable=False))
        batch_op.drop_column("filename")
        batch_op.drop_column("sha256")


def downgrade() -> None:
    op.execute("DELETE FROM bid_draft_document")
    with op.batch_alter_table("bid_draft_document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sha256", sa.String(length=64), nullable=False))
        batch_op.add_column(sa.Column("filename", sa.String(length=255), nullable=False))
        batch_op.drop_column("filename_sealed")

    with op.batch_alter_table("bid", schema=None) as batch_op:
        batch_op.add_column(sa.Column("draft_price_minor", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("draft_answers_json", sa.Text(), nullable=True))
        batch_op.drop_column("draft_sealed")
