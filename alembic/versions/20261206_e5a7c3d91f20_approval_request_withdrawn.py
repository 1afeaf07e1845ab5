"""approval requests withdrawn by the clerk who asked

A request still awaiting approval can be withdrawn by whoever asked (a department without a
second clerk would otherwise hold the money forever): status ``withdrawn``, ended at
``decided_at`` by nobody else (``decided_by_id`` stays empty, the four-eyes check is unchanged).

Revision ID: e5a7c3d91f20
Revises: bb9e54ec1a50
Create Date: 2026-12-06 00:55:00.000000
"""

from alembic import op

revision = "e5a7c3d91f20"
down_revision = "bb9e54ec1a50"
branch_labels = None
depends_on = None

BEFORE = (
    "(status = 'awaiting' AND decided_by_id IS NULL AND decided_at IS NULL)"
    " OR (status IN ('approved', 'rejected')"
    " AND decided_by_id IS NOT NULL AND decided_at IS NOT NULL)"
)
AFTER = BEFORE + " OR (status = 'withdrawn' AND decided_by_id IS NULL AND decided_at IS NOT NULL)"


def _check(condition: str) -> None:
    with op.batch_alter_table("approval_request", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_approval_request_decided_by_someone"), type_="check"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_approval_request_decided_by_someone"), condition
        )


def upgrade() -> None:
    _check(AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM approval_request WHERE status = 'withdrawn'")
    _check(BEFORE)
