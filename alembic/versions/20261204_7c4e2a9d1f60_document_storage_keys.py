"""Stored documents and files may be kept outside the database, named by a storage key

A row whose ``storage_key`` is NULL keeps its bytes in its own column, as every row written
before this migration does: they stay readable whatever store is configured. A check says the
bytes of a stored row are somewhere. Downgrading needs every row's bytes back in the database.

Revision ID: 7c4e2a9d1f60
Revises: 5a0c3d7e91b2
Create Date: 2026-12-04 23:10:00.000000
"""

import sqlalchemy as sa

from alembic import op

revision = "7c4e2a9d1f60"
down_revision = "5a0c3d7e91b2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("storage_key", sa.String(length=200), nullable=True))
        batch_op.create_check_constraint(
            "bytes_kept", "sha256 IS NULL OR pdf IS NOT NULL OR storage_key IS NOT NULL"
        )
    with op.batch_alter_table("stored_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("storage_key", sa.String(length=200), nullable=True))
        batch_op.alter_column("content", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.create_check_constraint(
            "bytes_kept", "content IS NOT NULL OR storage_key IS NOT NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("stored_file", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_stored_file_bytes_kept"), type_="check")
        batch_op.alter_column("content", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("storage_key")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_document_bytes_kept"), type_="check")
        batch_op.drop_column("storage_key")
