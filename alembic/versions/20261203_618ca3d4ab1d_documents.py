"""documents: receipts, credit notes and certificates become kinds of one document table

Every receipt and credit note moves with its id, number, code, PDF and hash; the receipt
counters become document counters. Every certificate moves with its number, PDF and hash,
numbered in series "C" in the year its number names, with the application id its number
carries as its sequence; the "C" counters continue after the highest of these, and each
certificate gets a verification code. The downgrade moves them back; a certificate still
waiting to be rendered (which the old table could not hold) is dropped by it.

Revision ID: 618ca3d4ab1d
Revises: ae5c1507f4d1
Create Date: 2026-12-03 12:25:45.567438
"""

import secrets

import sqlalchemy as sa

import portal.db
from alembic import op

revision = "618ca3d4ab1d"
down_revision = "ae5c1507f4d1"
branch_labels = None
depends_on = None

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
RECEIPT_KINDS = ("receipt", "credit_note")
RECEIPT_COLUMNS = (
    "id",
    "kind",
    "series",
    "fiscal_year",
    "sequence",
    "number",
    "verification_code",
    "payment_id",
    "refund_id",
    "amount_minor",
    "currency",
    "locale",
    "issued_at",
    "pdf",
    "sha256",
    "emailed_at",
)


def _table(name: str, *columns: str) -> sa.TableClause:
    return sa.table(name, *(sa.column(column) for column in columns))


document = _table("document", *RECEIPT_COLUMNS, "owner_user_id", "application_id")
receipt = _table("receipt", *RECEIPT_COLUMNS, "payer_user_id")
certificate = _table("certificate", "id", "application_id", "number", "pdf", "sha256", "issued_at")
application = _table("application", "id", "applicant_id")
user_account = _table("user_account", "id", "locale")
counter_columns = ("series", "fiscal_year", "last_number")
document_counter = _table("document_counter", *counter_columns)
receipt_counter = _table("receipt_counter", *counter_columns)


def _restart_ids(table: sa.TableClause) -> None:
    """Rows moved with their ids: PostgreSQL's sequence must continue after them (SQLite
    takes the highest id by itself)."""
    if op.get_bind().dialect.name == "postgresql":
        following = sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0) + 1)
        sequence = sa.func.pg_get_serial_sequence(table.name, "id")
        op.execute(sa.select(sa.func.setval(sequence, following.scalar_subquery(), False)))


def _create_receipt_tables() -> None:
    op.create_table(
        "receipt_counter",
        sa.Column("series", sa.String(length=16), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", "fiscal_year", name=op.f("pk_receipt_counter")),
    )
    op.create_table(
        "receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("series", sa.String(length=16), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("verification_code", sa.String(length=16), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("payer_user_id", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("issued_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("emailed_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["payer_user_id"],
            ["user_account.id"],
            name=op.f("fk_receipt_payer_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_receipt_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refund.id"], name=op.f("fk_receipt_refund_id_refund")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt")),
        sa.UniqueConstraint("number", name=op.f("uq_receipt_number")),
        sa.UniqueConstraint("refund_id", name=op.f("uq_receipt_refund_id")),
        sa.UniqueConstraint(
            "series", "fiscal_year", "sequence", name=op.f("uq_receipt_series_fiscal_year_sequence")
        ),
        sa.UniqueConstraint("verification_code", name=op.f("uq_receipt_verification_code")),
    )
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_receipt_payer_user_id"), ["payer_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_receipt_payment_id"), ["payment_id"], unique=False)
    op.create_table(
        "certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_certificate_application_id_application"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate")),
        sa.UniqueConstraint("application_id", name=op.f("uq_certificate_application_id")),
        sa.UniqueConstraint("number", name=op.f("uq_certificate_number")),
    )


def _drop_receipt_tables() -> None:
    op.drop_table("certificate")
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipt_payer_user_id"))
        batch_op.drop_index(batch_op.f("ix_receipt_payment_id"))
    op.drop_table("receipt")
    op.drop_table("receipt_counter")


def _new_code(taken: set[str]) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
        if code not in taken:
            taken.add(code)
            return code


def _move_certificates_in() -> None:
    """Old certificate numbers are C-<UTC year>-<application id, 7 digits>; kept as they are."""
    bind = op.get_bind()
    taken = set(bind.scalars(sa.select(document.c.verification_code)))
    rows = bind.execute(
        sa.select(certificate, application.c.applicant_id, user_account.c.locale)
        .join(application, application.c.id == certificate.c.application_id)
        .join(user_account, user_account.c.id == application.c.applicant_id)
        .order_by(certificate.c.id)
    ).all()
    last: dict[int, int] = {}
    for row in rows:
        _, year, sequence = row.number.split("-")
        year, sequence = int(year), int(sequence)
        last[year] = max(last.get(year, 0), sequence)
        bind.execute(
            sa.insert(document).values(
                kind="certificate",
                series="C",
                fiscal_year=year,
                sequence=sequence,
                number=row.number,
                verification_code=_new_code(taken),
                owner_user_id=row.applicant_id,
                application_id=row.application_id,
                locale=row.locale or "en",
                issued_at=row.issued_at,
                pdf=row.pdf,
                sha256=row.sha256,
            )
        )
    for year, sequence in sorted(last.items()):
        bind.execute(
            sa.insert(document_counter).values(series="C", fiscal_year=year, last_number=sequence)
        )


def upgrade() -> None:
    op.create_table(
        "document_counter",
        sa.Column("series", sa.String(length=16), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", "fiscal_year", name=op.f("pk_document_counter")),
    )
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("series", sa.String(length=16), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("verification_code", sa.String(length=16), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("issued_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("emailed_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("amount_minor", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_document_application_id_application"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["user_account.id"],
            name=op.f("fk_document_owner_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_document_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refund.id"], name=op.f("fk_document_refund_id_refund")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
        sa.UniqueConstraint("application_id", name=op.f("uq_document_application_id")),
        sa.UniqueConstraint("number", name=op.f("uq_document_number")),
        sa.UniqueConstraint("refund_id", name=op.f("uq_document_refund_id")),
        sa.UniqueConstraint(
            "series",
            "fiscal_year",
            "sequence",
            name=op.f("uq_document_series_fiscal_year_sequence"),
        ),
        sa.UniqueConstraint("verification_code", name=op.f("uq_document_verification_code")),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_owner_user_id"), ["owner_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_document_payment_id"), ["payment_id"], unique=False)

    op.execute(
        sa.insert(document).from_select(
            [*RECEIPT_COLUMNS, "owner_user_id"],
            sa.select(*(receipt.c[name] for name in RECEIPT_COLUMNS), receipt.c.payer_user_id),
        )
    )
    _restart_ids(document)
    op.execute(sa.insert(document_counter).from_select(counter_columns, sa.select(receipt_counter)))
    _move_certificates_in()
    _drop_receipt_tables()


def downgrade() -> None:
    _create_receipt_tables()
    op.execute(
        sa.insert(receipt).from_select(
            [*RECEIPT_COLUMNS, "payer_user_id"],
            sa.select(
                *(document.c[name] for name in RECEIPT_COLUMNS), document.c.owner_user_id
            ).where(document.c.kind.in_(RECEIPT_KINDS)),
        )
    )
    _restart_ids(receipt)
    op.execute(
        sa.insert(receipt_counter).from_select(
            counter_columns,
            sa.select(document_counter).where(document_counter.c.series.in_(("R", "CN"))),
        )
    )
    op.execute(
        sa.insert(certificate).from_select(
            ["id", "application_id", "number", "pdf", "sha256", "issued_at"],
            sa.select(
                document.c.id,
                document.c.application_id,
                document.c.number,
                document.c.pdf,
                document.c.sha256,
                document.c.issued_at,
            ).where(document.c.kind == "certificate", document.c.pdf.is_not(None)),
        )
    )
    _restart_ids(certificate)
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_payment_id"))
        batch_op.drop_index(batch_op.f("ix_document_owner_user_id"))
    op.drop_table("document")
    op.drop_table("document_counter")
