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


#: the checks, by table: whose bytes are kept somewhere
CHECKS = {
    "document": "sha256 IS NULL OR pdf IS NOT NULL OR storage_key IS NOT NULL",
    "stored_file": "content IS NOT NULL OR storage_key IS NOT NULL",
}


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        _upgrade_postgresql()
        return
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("storage_key", sa.String(length=200), nullable=True))
        batch_op.create_check_constraint("bytes_kept", CHECKS["document"])
    with op.batch_alter_table("stored_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("storage_key", sa.String(length=200), nullable=True))
        batch_op.alter_column("content", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.create_check_constraint("bytes_kept", CHECKS["stored_file"])


def _upgrade_postgresql() -> None:
    """The same, with each check added ``NOT VALID`` and then validated: adding it plainly
    would scan every existing row under a lock that stops receipts and downloads meanwhile;
    validating scans them under one that lets both go on."""
    for table in CHECKS:
        op.add_column(table, sa.Column("storage_key", sa.String(length=200), nullable=True))
    op.alter_column("stored_file", "content", existing_type=sa.LargeBinary(), nullable=True)
    for table, condition in CHECKS.items():
        name = f"ck_{table}_bytes_kept"
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({condition}) NOT VALID")
        op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")


def downgrade() -> None:
    with op.batch_alter_table("stored_file", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_stored_file_bytes_kept"), type_="check")
        batch_op.alter_column("content", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("storage_key")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_document_bytes_kept"), type_="check")
        batch_op.drop_column("storage_key")
