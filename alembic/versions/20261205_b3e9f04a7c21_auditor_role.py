"""The auditor role, and the chain's head moved by a trigger on each entry inserted

The auditor reads the audit log and nothing else (the IdP's ``auditor`` group). The trigger
lets an entry be appended in one statement (an INSERT ... SELECT from the locked head,
portal.audit.trail): the payment path's statement budget (issue 13) has room for one.

Revision ID: b3e9f04a7c21
Revises: 3e9b5c1d7a42
Create Date: 2026-12-05 23:40:00.000000
"""

import sqlalchemy as sa

from alembic import op

revision = "b3e9f04a7c21"
down_revision = "3e9b5c1d7a42"
branch_labels = None
depends_on = None

POSTGRESQL_HEAD_FOLLOWS = """
CREATE FUNCTION audit_head_follows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
    RETURN NULL;
END
$$
"""
SQLITE_HEAD_FOLLOWS = """
CREATE TRIGGER audit_entry_moves_head AFTER INSERT ON audit_entry
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
END
"""


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_auditor", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # the rows that existed have their value: the model gives new rows theirs
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.alter_column("is_auditor", server_default=None)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_HEAD_FOLLOWS)
        op.execute(
            "CREATE TRIGGER audit_entry_moves_head AFTER INSERT ON audit_entry "
            "FOR EACH ROW EXECUTE FUNCTION audit_head_follows()"
        )
    else:
        op.execute(SQLITE_HEAD_FOLLOWS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entry_moves_head ON audit_entry")
        op.execute("DROP FUNCTION audit_head_follows()")
    else:
        op.execute("DROP TRIGGER audit_entry_moves_head")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("is_auditor")
