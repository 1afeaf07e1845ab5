"""The audit log refuses TRUNCATE

The row triggers of a0d17c4e2b95 keep audit_entry append-only and audit_head forward-only,
but TRUNCATE fires no row trigger: it emptied both tables, and the head row that the first
write re-creates made the empty chain verify. A statement-level trigger refuses it on
PostgreSQL (SQLite has no TRUNCATE).

Revision ID: bb9e54ec1a50
Revises: c3e91f5a7b24
Create Date: 2026-12-06 00:50:00.000000
"""

from alembic import op

revision = "bb9e54ec1a50"
down_revision = "c3e91f5a7b24"
branch_labels = None
depends_on = None

REFUSE_TRUNCATE = """
CREATE FUNCTION audit_refuses_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% cannot be truncated: the audit log is append-only', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$
"""
TABLES = ("audit_entry", "audit_head")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(REFUSE_TRUNCATE)
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_refuses_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuses_truncate()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_refuses_truncate ON {table}")
    op.execute("DROP FUNCTION audit_refuses_truncate()")
