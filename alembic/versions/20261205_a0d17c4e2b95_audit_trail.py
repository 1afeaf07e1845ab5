"""The audit trail: hash-chained entries and the head row writers lock

Revision ID: a0d17c4e2b95
Revises: 8d2f6b1c4a90
Create Date: 2026-12-05 23:30:00.000000
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "a0d17c4e2b95"
down_revision = "8d2f6b1c4a90"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

#: copied from portal.audit.guard at the time of writing: a migration must not change when
#: the code does
TRIGGERS = (
    """
CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.seq <= (SELECT pruned_seq FROM audit_head WHERE id = 1) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit entry % cannot be deleted: the audit log is append-only',
            OLD.seq USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.personal IS NULL
       AND (NEW.seq, NEW.occurred_at, NEW.action, NEW.actor_id, NEW.subject_id,
            NEW.object_type, NEW.object_id, NEW.details, NEW.personal_digest,
            NEW.prev_hash, NEW.hash)
           IS NOT DISTINCT FROM
           (OLD.seq, OLD.occurred_at, OLD.action, OLD.actor_id, OLD.subject_id,
            OLD.object_type, OLD.object_id, OLD.details, OLD.personal_digest,
            OLD.prev_hash, OLD.hash) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit entry % cannot be changed: only its personal data may be redacted',
        OLD.seq USING ERRCODE = 'restrict_violation';
END
$$
""",
    "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
    "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()",
    """
CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the audit chain''s head cannot be deleted'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.seq < OLD.seq OR NEW.pruned_seq < OLD.pruned_seq OR NEW.pruned_seq > NEW.seq THEN
        RAISE EXCEPTION 'the audit chain''s head only moves forward'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.pruned_seq <> OLD.pruned_seq AND NOT EXISTS (
        SELECT 1 FROM audit_entry WHERE seq = NEW.pruned_seq AND hash = NEW.pruned_hash
    ) THEN
        RAISE EXCEPTION 'the pruning checkpoint must name an entry by its seq and hash'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.pruned_seq = OLD.pruned_seq AND NEW.pruned_hash <> OLD.pruned_hash THEN
        RAISE EXCEPTION 'the pruning checkpoint cannot be rewritten'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$
""",
    "CREATE TRIGGER audit_head_forward_only BEFORE UPDATE OR DELETE ON audit_head "
    "FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only()",
)


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("object_type", sa.String(length=40), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.Column("personal", JSON, nullable=True),
        sa.Column("personal_digest", sa.String(length=64), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entry")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_entry_hash")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entry_occurred_at", ["occurred_at"], unique=False)
        batch_op.create_index("ix_audit_entry_action", ["action", "seq"], unique=False)
        batch_op.create_index("ix_audit_entry_actor_id", ["actor_id", "seq"], unique=False)
        batch_op.create_index("ix_audit_entry_subject_id", ["subject_id", "seq"], unique=False)
        batch_op.create_index(
            "ix_audit_entry_object", ["object_type", "object_id", "seq"], unique=False
        )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("pruned_seq", sa.BigInteger(), nullable=False),
        sa.Column("pruned_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.bulk_insert(
        head, [{"id": 1, "seq": 0, "hash": GENESIS, "pruned_seq": 0, "pruned_hash": GENESIS}]
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_head_forward_only ON audit_head")
        op.execute("DROP FUNCTION audit_head_forward_only()")
        op.execute("DROP TRIGGER audit_entry_append_only ON audit_entry")
        op.execute("DROP FUNCTION audit_entry_append_only()")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        for name in (
            "ix_audit_entry_object",
            "ix_audit_entry_subject_id",
            "ix_audit_entry_actor_id",
            "ix_audit_entry_action",
            "ix_audit_entry_occurred_at",
        ):
            batch_op.drop_index(name)
    op.drop_table("audit_entry")
