"""The ledger's rules and the payment state machine."""

import pytest
from sqlalchemy import event, select

from portal.billing import cancel_bill, ledger, state, with_status
from portal.billing.ledger import AlreadyPosted, LedgerError, Line
from portal.billing.models import JournalEntry
from portal.money import Money
from portal.refusals import Refusal
from tests import factories


@pytest.fixture
def payer(dbsession):
    return factories.user(dbsession)


def eur(minor):
    return Money(minor, "EUR")


def test_issuing_a_bill_posts_a_balanced_transaction(dbsession, payer):
    bill = factories.bill(dbsession, payer, amount=100_00)
    assert ledger.account_balance(dbsession, f"receivable:user:{payer.id}") == {"EUR": 100_00}
    assert ledger.account_balance(dbsession, "revenue:property-tax") == {"EUR": -100_00}
    assert with_status(dbsession, [bill])[0].status == "open"
    assert bill.reference.startswith("RF")


def test_unbalanced_or_repeated_postings_are_refused(dbsession, payer):
    with pytest.raises(LedgerError, match="unbalanced"):
        ledger.post(dbsession, "test", "t:1", "x", [Line("a", "clearing", eur(1))])
    lines = [Line("a", "clearing", eur(5)), Line("b", "revenue", eur(-5))]
    ledger.post(dbsession, "test", "t:2", "x", lines)
    with pytest.raises(AlreadyPosted):
        ledger.post(dbsession, "test", "t:2", "x", lines)


def test_posted_entries_cannot_be_changed_or_deleted(dbsession, payer):
    factories.bill(dbsession, payer)
    dbsession.commit()
    entry = dbsession.query(JournalEntry).first()
    entry.amount_minor += 1
    with pytest.raises(LedgerError, match="append-only"):
        dbsession.flush()
    dbsession.rollback()
    dbsession.delete(dbsession.query(JournalEntry).first())
    with pytest.raises(LedgerError, match="append-only"):
        dbsession.flush()


def test_a_correction_is_a_reversing_transaction(dbsession, payer):
    factories.bill(dbsession, payer, amount=40_00)
    issued = dbsession.query(JournalEntry).first().transaction
    correction = ledger.reverse(dbsession, issued, "issued by mistake")
    assert ledger.account_balance(dbsession, f"receivable:user:{payer.id}") == {"EUR": 0}
    assert correction.reverses_id == issued.id
    assert len(issued.entries) == 2  # the original stays as it was


@pytest.mark.parametrize(
    ("paid", "status"), [(0, "open"), (10_00, "partly_paid"), (40_00, "paid"), (50_00, "overpaid")]
)
def test_bill_status_is_derived_from_the_ledger(dbsession, payer, paid, status):
    bill = factories.bill(dbsession, payer, amount=40_00)
    if paid:
        ledger.post(
            dbsession,
            "payment_settled",
            "p:1",
            "test",
            [
                Line("clearing:sandbox", "clearing", eur(paid)),
                Line(f"receivable:user:{payer.id}", "receivable", eur(-paid), bill.id),
            ],
        )
    assert with_status(dbsession, [bill])[0].status == status


def test_cancelling_a_bill(dbsession, payer, clock):
    bill = factories.bill(dbsession, payer, amount=40_00)
    cancel_bill(dbsession, bill, "assessed twice", clock.now())
    view = with_status(dbsession, [bill])[0]
    assert view.status == "cancelled" and not view.payable
    assert ledger.account_balance(dbsession, "revenue:property-tax") == {"EUR": 0}
    with pytest.raises(Refusal):
        cancel_bill(dbsession, bill, "again", clock.now())


def test_bills_must_be_well_formed(dbsession, payer):
    with pytest.raises(Refusal):
        factories.bill(dbsession, payer, amount=0)
    with pytest.raises(Refusal):
        factories.bill(dbsession, None)


def test_state_machine_records_transitions_and_refuses_illegal_ones(dbsession, payer, clock):
    payment = factories.payment(dbsession, payer, [factories.bill(dbsession, payer)])
    state.transition(payment, state.STARTED, "hosted page opened", clock.now())
    state.transition(payment, state.FAILED, "card declined", clock.now())
    with pytest.raises(state.IllegalTransition):
        state.transition(payment, state.SUCCEEDED, "too late", clock.now())
    assert [(t.from_status, t.to_status, t.cause) for t in payment.transitions] == [
        ("created", "started", "hosted page opened"),
        ("started", "failed", "card declined"),
    ]
    assert all(t.at.tzinfo is not None for t in payment.transitions)


@pytest.mark.parametrize("status", sorted(state.TRANSITIONS))
def test_every_state_is_reachable_only_through_the_table(status):
    for target in state.TRANSITIONS[status]:
        assert target in state.TRANSITIONS


def test_two_transactions_cannot_both_change_a_payment(engine, dbsession, payer, clock):
    """Without row locks (SQLite) the version column still lets only one of two racing
    transactions record an outcome; the loser is retried and then sees the winner's."""
    from sqlalchemy.orm.exc import StaleDataError

    from portal.billing.models import Payment

    payment = factories.payment(dbsession, payer, [factories.bill(dbsession, payer)])
    dbsession.commit()
    from sqlalchemy.orm import Session

    first, second = Session(engine), Session(engine)
    try:
        mine, theirs = first.get(Payment, payment.id), second.get(Payment, payment.id)
        state.transition(mine, state.STARTED, "first", clock.now())
        first.commit()
        state.transition(theirs, state.STARTED, "second", clock.now())
        with pytest.raises(StaleDataError):
            second.commit()
    finally:
        first.close()
        second.close()


def test_a_transition_written_at_once_loses_a_race_as_the_flush_does(
    engine, dbsession, payer, clock
):
    """The hot path's transitions (started, succeeded) are written by one versioned UPDATE
    at once rather than by the flush: the loser of a race gets the same StaleDataError (so
    pyramid_retry runs it again), straight away, and writes nothing."""
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.exc import StaleDataError

    from portal.billing.models import Payment, PaymentTransition

    payment = factories.payment(dbsession, payer, [factories.bill(dbsession, payer)])
    dbsession.commit()
    first, second = Session(engine), Session(engine)
    try:
        mine, theirs = first.get(Payment, payment.id), second.get(Payment, payment.id)
        state.transition_written(mine, state.STARTED, "first", clock.now(), hosted_url="h/1")
        first.commit()
        with pytest.raises(StaleDataError):
            state.transition_written(theirs, state.STARTED, "second", clock.now())
        second.rollback()
    finally:
        first.close()
        second.close()
    dbsession.expire_all()
    stored = dbsession.get(Payment, payment.id)
    assert (stored.status, stored.hosted_url, stored.version) == (state.STARTED, "h/1", 2)
    causes = dbsession.scalars(
        select(PaymentTransition.cause).where(PaymentTransition.payment_id == payment.id)
    )
    assert list(causes) == ["first"]


def test_a_transition_written_at_once_leaves_nothing_for_the_flush(engine, dbsession, payer, clock):
    """The payment is written once, by the transition's own UPDATE: the object is clean
    afterwards (the commit sends no second UPDATE) and reads as the row does."""
    from sqlalchemy.orm import Session

    from portal.billing.models import Payment

    payment = factories.payment(dbsession, payer, [factories.bill(dbsession, payer)])
    dbsession.commit()
    sent: list[str] = []

    def record(conn, cursor, statement, *args):
        sent.append(statement)

    with Session(engine, expire_on_commit=False) as session:
        loaded = session.get(Payment, payment.id)
        event.listen(engine, "before_cursor_execute", record)
        try:
            state.transition_written(
                loaded, state.STARTED, "page opened", clock.now(), provider_payment_id="psp_1"
            )
            assert not session.dirty
            session.commit()
        finally:
            event.remove(engine, "before_cursor_execute", record)
    updates = [s for s in sent if "UPDATE payment " in s]
    assert len(updates) == 1
    assert (loaded.status, loaded.provider_payment_id, loaded.version) == (
        state.STARTED,
        "psp_1",
        2,
    )
