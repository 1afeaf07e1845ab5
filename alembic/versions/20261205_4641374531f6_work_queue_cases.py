"""The work queue: cases, their changes of state, claims and hand-overs, notes and files

The table is ``work_case`` (``case`` is a reserved word of SQL).

Revision ID: 4641374531f6
Revises: b7e31c5d9a24
Create Date: 2026-12-05 23:24:37.229851
"""

import sqlalchemy as sa

import portal.db
from alembic import op

revision = "4641374531f6"
down_revision = "b7e31c5d9a24"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("open_key", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("opened_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=300), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["user_account.id"], name=op.f("fk_work_case_assignee_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_work_case_department_id_department")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_work_case_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["user_account.id"], name=op.f("fk_work_case_person_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_case")),
        sa.UniqueConstraint("open_key", name=op.f("uq_work_case_open_key")),
        sa.UniqueConstraint("public_id", name=op.f("uq_work_case_public_id")),
    )
    op.create_index(op.f("ix_work_case_assignee_id"), "work_case", ["assignee_id"], unique=False)
    op.create_index(
        op.f("ix_work_case_organisation_id"), "work_case", ["organisation_id"], unique=False
    )
    op.create_index(op.f("ix_work_case_person_id"), "work_case", ["person_id"], unique=False)
    op.create_index(
        "ix_work_case_queue", "work_case", ["department_id", "state", "due_at"], unique=False
    )
    op.create_index(
        "ix_work_case_subject", "work_case", ["subject_type", "subject_id"], unique=False
    )
    op.create_table(
        "work_case_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("from_user_id", sa.Integer(), nullable=True),
        sa.Column("to_user_id", sa.Integer(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=False),
        sa.Column("at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_id"], ["user_account.id"], name=op.f("fk_work_case_assignment_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["work_case.id"],
            name=op.f("fk_work_case_assignment_case_id_work_case"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["from_user_id"],
            ["user_account.id"],
            name=op.f("fk_work_case_assignment_from_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["to_user_id"],
            ["user_account.id"],
            name=op.f("fk_work_case_assignment_to_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_case_assignment")),
    )
    op.create_index(
        op.f("ix_work_case_assignment_case_id"), "work_case_assignment", ["case_id"], unique=False
    )
    op.create_table(
        "work_case_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["work_case.id"],
            name=op.f("fk_work_case_attachment_case_id_work_case"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["stored_file.id"],
            name=op.f("fk_work_case_attachment_file_id_stored_file"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["user_account.id"],
            name=op.f("fk_work_case_attachment_uploaded_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_case_attachment")),
        sa.UniqueConstraint("public_id", name=op.f("uq_work_case_attachment_public_id")),
    )
    op.create_index(
        op.f("ix_work_case_attachment_case_id"), "work_case_attachment", ["case_id"], unique=False
    )
    op.create_table(
        "work_case_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_work_case_note_author_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["work_case.id"],
            name=op.f("fk_work_case_note_case_id_work_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_case_note")),
    )
    op.create_index(op.f("ix_work_case_note_case_id"), "work_case_note", ["case_id"], unique=False)
    op.create_table(
        "work_case_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("cause", sa.String(length=300), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_work_case_transition_actor_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["work_case.id"],
            name=op.f("fk_work_case_transition_case_id_work_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_case_transition")),
    )
    op.create_index(
        op.f("ix_work_case_transition_case_id"), "work_case_transition", ["case_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_work_case_transition_case_id"), table_name="work_case_transition")
    op.drop_table("work_case_transition")
    op.drop_index(op.f("ix_work_case_note_case_id"), table_name="work_case_note")
    op.drop_table("work_case_note")
    op.drop_index(op.f("ix_work_case_attachment_case_id"), table_name="work_case_attachment")
    op.drop_table("work_case_attachment")
    op.drop_index(op.f("ix_work_case_assignment_case_id"), table_name="work_case_assignment")
    op.drop_table("work_case_assignment")
    op.drop_index("ix_work_case_subject", table_name="work_case")
    op.drop_index("ix_work_case_queue", table_name="work_case")
    op.drop_index(op.f("ix_work_case_person_id"), table_name="work_case")
    op.drop_index(op.f("ix_work_case_organisation_id"), table_name="work_case")
    op.drop_index(op.f("ix_work_case_assignee_id"), table_name="work_case")
    op.drop_table("work_case")
