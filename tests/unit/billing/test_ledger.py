"""The double-entry ledger: balanced, idempotent, append-only, corrected by reversal."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.billing import ledger
from portal.billing.bills import cancel_bill
from portal.billing.ledger import AlreadyPosted, LedgerError, Line
from portal.billing.models import Bill, JournalEntry, JournalTransaction, LedgerAccount
from portal.clock import clock as app_clock
from portal.db import registry_of
from portal.money import Money
from tests import factories


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def count(dbsession, model) -> int:
    return dbsession.scalar(select(func.count()).select_from(model))


def settle(dbsession, bill, minor: int, idempotency: str = "settled:1"):
    """Post ``minor`` received on ``bill`` as a provider's settlement would."""
    return ledger.post(
        dbsession,
        "payment_settled",
        idempotency,
        "test settlement",
        [
            Line("clearing:sandbox", "clearing", eur(minor)),
            Line(*ledger.receivable_account(bill), eur(-minor), bill.id),
        ],
    )


def test_a_posting_records_each_line_and_the_accounts_balance_to_zero(dbsession):
    posted = ledger.post(
        dbsession,
        "test",
        "t:1",
        "three lines",
        [
            Line("clearing:sandbox", "clearing", eur(30_00)),
            Line("revenue:a", "revenue", eur(-10_00)),
            Line("revenue:b", "revenue", eur(-20_00)),
        ],
    )
    assert sorted(entry.amount_minor for entry in posted.entries) == [-20_00, -10_00, 30_00]
    assert ledger.account_balance(dbsession, "clearing:sandbox") == {"EUR": 30_00}
    assert ledger.account_balance(dbsession, "revenue:a") == {"EUR": -10_00}
    assert dbsession.scalar(select(func.sum(JournalEntry.amount_minor))) == 0


def test_an_unbalanced_posting_is_refused_and_adds_nothing(dbsession):
    with pytest.raises(LedgerError, match="unbalanced"):
        ledger.post(
            dbsession,
            "test",
            "t:1",
            "off by a cent",
            [
                Line("clearing:sandbox", "clearing", eur(5_00)),
                Line("revenue:a", "revenue", eur(-4_99)),
            ],
        )
    assert count(dbsession, JournalTransaction) == 0
    assert count(dbsession, JournalEntry) == 0


def test_a_posting_balances_in_each_currency_not_across_currencies(dbsession):
    with pytest.raises(LedgerError, match="unbalanced"):
        ledger.post(
            dbsession,
            "test",
            "t:1",
            "euros against dollars",
            [
                Line("clearing:sandbox", "clearing", eur(5_00)),
                Line("revenue:a", "revenue", Money(-5_00, "USD")),
            ],
        )


def test_a_posting_without_lines_is_refused(dbsession):
    with pytest.raises(LedgerError, match="unbalanced"):
        ledger.post(dbsession, "test", "t:1", "nothing", [])


def test_the_same_business_event_is_posted_once(dbsession):
    lines = [
        Line("clearing:sandbox", "clearing", eur(5_00)),
        Line("revenue:a", "revenue", eur(-5_00)),
    ]
    ledger.post(dbsession, "test", "event:1", "first", lines)
    with pytest.raises(AlreadyPosted):
        ledger.post(dbsession, "test", "event:1", "again", lines)
    assert count(dbsession, JournalTransaction) == 1
    assert ledger.account_balance(dbsession, "clearing:sandbox") == {"EUR": 5_00}


def test_zero_lines_are_left_out_and_accounts_are_made_once(dbsession):
    first = ledger.post(
        dbsession,
        "test",
        "t:1",
        "with a zero line",
        [
            Line("clearing:sandbox", "clearing", eur(5_00)),
            Line("revenue:a", "revenue", eur(-5_00)),
            Line("revenue:b", "revenue", eur(0)),
        ],
    )
    ledger.post(
        dbsession,
        "test",
        "t:2",
        "the same accounts",
        [Line("clearing:sandbox", "clearing", eur(1_00)), Line("revenue:a", "revenue", eur(-1_00))],
    )
    assert len(first.entries) == 2
    assert sorted(dbsession.scalars(select(LedgerAccount.code))) == [
        "clearing:sandbox",
        "revenue:a",
    ]


def test_posted_entries_cannot_be_changed(dbsession):
    ledger.post(
        dbsession,
        "test",
        "t:1",
        "x",
        [Line("clearing:sandbox", "clearing", eur(5_00)), Line("revenue:a", "revenue", eur(-5_00))],
    )
    entry = dbsession.scalars(select(JournalEntry)).first()
    entry.amount_minor = 6_00
    with pytest.raises(LedgerError, match="append-only"):
        dbsession.flush()


def test_posted_transactions_cannot_be_deleted(dbsession):
    posted = ledger.post(
        dbsession,
        "test",
        "t:1",
        "x",
        [Line("clearing:sandbox", "clearing", eur(5_00)), Line("revenue:a", "revenue", eur(-5_00))],
    )
    dbsession.delete(posted)
    with pytest.raises(LedgerError, match="append-only"):
        dbsession.flush()


def test_a_reversal_posts_the_opposite_entries_once(dbsession):
    original = ledger.post(
        dbsession,
        "test",
        "t:1",
        "posted by mistake",
        [Line("clearing:sandbox", "clearing", eur(7_00)), Line("revenue:a", "revenue", eur(-7_00))],
    )
    reversal = ledger.reverse(dbsession, original, "correction")
    assert reversal.reverses_id == original.id
    assert sorted(e.amount_minor for e in reversal.entries) == [-7_00, 7_00]
    assert ledger.account_balance(dbsession, "clearing:sandbox") == {"EUR": 0}
    assert ledger.account_balance(dbsession, "revenue:a") == {"EUR": 0}
    with pytest.raises(AlreadyPosted):
        ledger.reverse(dbsession, original, "corrected twice")


def test_a_bill_balance_counts_only_what_is_owed_on_it(dbsession):
    payer = factories.user(dbsession)
    paid = factories.bill(dbsession, payer, amount=40_00)
    untouched = factories.bill(dbsession, payer, amount=15_00)
    settle(dbsession, paid, 25_00)
    assert ledger.bill_balances(dbsession, [paid.id, untouched.id]) == {
        paid.id: 15_00,
        untouched.id: 15_00,
    }
    assert ledger.bill_balances(dbsession, [untouched.id + 1000]) == {untouched.id + 1000: 0}
    assert ledger.bill_balances(dbsession, []) == {}


def test_the_sql_outstanding_amount_agrees_with_the_bill_balances(dbsession):
    payer = factories.user(dbsession)
    bills = [
        factories.bill(dbsession, payer, amount=40_00),
        factories.bill(dbsession, payer, amount=10_00),
        factories.bill(dbsession, payer, amount=20_00),
    ]
    settle(dbsession, bills[0], 25_00, "settled:1")
    settle(dbsession, bills[1], 12_00, "settled:2")
    cancel_bill(dbsession, bills[2], "issued by mistake", app_clock(registry_of(dbsession)).now())
    in_sql = dict(
        dbsession.execute(
            select(Bill.id, ledger.bill_outstanding()).where(Bill.id.in_([b.id for b in bills]))
        ).all()
    )
    assert in_sql == ledger.bill_balances(dbsession, [b.id for b in bills])
    assert in_sql == {bills[0].id: 15_00, bills[1].id: -2_00, bills[2].id: 0}


def test_issuing_a_bill_moves_its_total_from_revenue_to_the_payers_receivable(dbsession):
    payer = factories.user(dbsession)
    factories.bill(dbsession, payer, amount=33_00)
    assert ledger.account_balance(dbsession, f"receivable:user:{payer.id}") == {"EUR": 33_00}
    assert ledger.account_balance(dbsession, "revenue:property-tax") == {"EUR": -33_00}
