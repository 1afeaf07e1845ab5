"""The migration to refund lines keeps what each existing refund gave back on which bill: a
posted refund as the ledger says, a refund of one bill on that bill, and a refund not yet
posted as the old code would have posted it (spread over the bills, the last one first)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy import create_engine, text

from alembic import command

ROOT = Path(__file__).resolve().parents[3]
BEFORE = "c9fe0a32c429"

ROWS = """
INSERT INTO user_account (id, idp_entity_id, name_id, given_name, family_name, email, locale,
    is_admin, created_at) VALUES (1, 'idp', 'ben', 'Ben', 'K', 'b@example.org', 'en', 0,
    '2026-11-01 00:00:00');
INSERT INTO department (id, code, name) VALUES (1, 'revenue', 'Revenue');
INSERT INTO service (id, code, name, department_id) VALUES (1, 'water', 'Water', 1);
INSERT INTO bill (id, public_id, service_id, number, description, currency, total_minor,
    due_date, issued_at, payer_user_id)
    VALUES (1, 'b1', 1, 'W-1', 'Water', 'EUR', 2100, '2026-12-01', '2026-11-01 00:00:00', 1),
           (2, 'b2', 1, 'T-1', 'Tax', 'EUR', 20630, '2026-12-01', '2026-11-01 00:00:00', 1),
           (3, 'b3', 1, 'I-1', 'Interest', 'EUR', 203, '2026-12-01', '2026-11-01 00:00:00', 1);
INSERT INTO payment (id, public_id, payer_user_id, provider, status, amount_minor, currency,
    refunded_minor, created_at, expires_at)
    VALUES (1, 'p1', 1, 'sandbox', 'partly_refunded', 22933, 'EUR', 3300,
            '2026-11-02 00:00:00', '2026-11-02 01:30:00');
INSERT INTO payment_allocation (payment_id, bill_id, amount_minor, refunded_minor)
    VALUES (1, 1, 2100, 0), (1, 2, 20630, 1897), (1, 3, 203, 203);
INSERT INTO refund (id, public_id, payment_id, bill_id, amount_minor, currency, reason, status,
    created_at)
    VALUES (1, 'r1', 1, NULL, 2100, 'EUR', 'posted, spread', 'succeeded', '2026-11-03 00:00:00'),
           (2, 'r2', 1, 1, 700, 'EUR', 'one bill', 'requested', '2026-11-04 00:00:00'),
           (3, 'r3', 1, NULL, 500, 'EUR', 'not posted, spread', 'requested',
            '2026-11-04 00:00:00');
INSERT INTO ledger_account (id, code, kind) VALUES (1, 'clearing:sandbox', 'clearing'),
    (2, 'receivable:user:1', 'receivable');
INSERT INTO journal_transaction (id, kind, idempotency, description, created_at)
    VALUES (1, 'refund', 'refund:1:settled', 'Refund r1', '2026-11-03 00:00:00');
INSERT INTO journal_entry (id, transaction_id, account_id, bill_id, amount_minor, currency)
    VALUES (1, 1, 1, NULL, -2100, 'EUR'), (2, 1, 2, 3, 203, 'EUR'), (3, 1, 2, 2, 1897, 'EUR');
"""


def config(connection) -> Config:
    alembic = Config()
    alembic.set_main_option("script_location", str(ROOT / "alembic"))
    alembic.attributes["connection"] = connection
    return alembic


def lines(connection) -> list[tuple]:
    return list(
        connection.execute(
            text(
                "SELECT refund_id, bill_id, amount_minor FROM refund_line"
                " ORDER BY refund_id, bill_id"
            )
        )
    )


def test_existing_refunds_get_the_lines_they_posted_or_would_have(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'lines.sqlite'}")
    with engine.begin() as connection:
        command.upgrade(config(connection), BEFORE)
        for statement in ROWS.split(";"):
            if statement.strip():
                connection.execute(text(statement))
        command.upgrade(config(connection), "head")
        assert lines(connection) == [
            (1, 2, 1897),  # as posted: the tax and its interest, not the water bill
            (1, 3, 203),
            (2, 1, 700),  # its one bill
            (3, 2, 500),  # the old spread: the last bill with something left, the tax
        ]

        command.downgrade(config(connection), BEFORE)
        bills = dict(connection.execute(text("SELECT id, bill_id FROM refund ORDER BY id")).all())
        assert bills == {1: None, 2: 1, 3: 2}
