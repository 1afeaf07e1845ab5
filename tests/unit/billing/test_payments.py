"""Paying bills and refunding payments, called directly: amounts, idempotency, the state
machine, the ledger postings and the limits of refunds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from portal.billing import ledger, state
from portal.billing.bills import with_status
from portal.billing.ledger import Line
from portal.billing.models import JournalTransaction, Payment, Refund
from portal.billing.payments import (
    MAX_BILLS_PER_PAYMENT,
    apply_provider_payment,
    cancel_unstarted,
    create_payment,
    overpaid_by_bill,
    post_refund,
    record_refund,
)
from portal.billing.providers import ProviderPayment
from portal.billing.refunding import refund_bill
from portal.clock import clock as app_clock
from portal.db import registry_of
from portal.money import Money
from portal.refusals import Refusal
from portal.web import status_of
from tests import factories

KEY = "k" * 16


def now(dbsession) -> dt.datetime:
    """What the app's clock says, as billing's callers pass it."""
    return app_clock(registry_of(dbsession)).now()


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def report(payment, status="succeeded", amount=None, failure_reason=None) -> ProviderPayment:
    """What the provider says about ``payment`` (a notification or a status query)."""
    return ProviderPayment(
        provider_payment_id=f"provider-{payment.public_id}",
        reference=payment.public_id,
        status=status,
        amount=amount or payment.amount,
        refunded=Money(0, payment.currency),
        method="card",
        failure_reason=failure_reason,
    )


def pay(dbsession, payer, bills, key=KEY) -> Payment:
    return create_payment(
        dbsession,
        user=payer,
        bill_ids=[bill.id for bill in bills],
        idempotency_key=key,
        provider="sandbox",
        timeout=dt.timedelta(minutes=90),
        now=now(dbsession),
    )


def settled(dbsession, payer, bills, key=KEY) -> Payment:
    payment = pay(dbsession, payer, bills, key)
    assert apply_provider_payment(dbsession, payment, report(payment), "test", now(dbsession)) == []
    return payment


@dataclass(frozen=True)
class Refused:
    status: int
    message: str
    payment: Payment | None


def refused(call, *args, **kwargs) -> Refused:
    """The refusal ``call`` raises as the payer meets it: its status, its message in English
    and the payment it is about."""
    with pytest.raises(Refusal) as caught:
        call(*args, **kwargs)
    error = caught.value
    payment = error.about if isinstance(error.about, Payment) else None
    return Refused(status_of(error), error.message.interpolate(), payment)


def postings(dbsession) -> int:
    return dbsession.scalar(select(func.count()).select_from(JournalTransaction))


# Creating a payment


def test_a_payment_of_several_bills_takes_what_is_owed_on_each(dbsession, payer):
    whole = factories.bill(dbsession, payer, amount=40_00)
    partly_paid = factories.bill(dbsession, payer, amount=30_00)
    ledger.post(
        dbsession,
        "payment_settled",
        "paid-at-the-counter",
        "paid in part elsewhere",
        [
            Line("clearing:counter", "clearing", eur(10_00)),
            Line(*ledger.receivable_account(partly_paid), eur(-10_00), partly_paid.id),
        ],
    )
    payment = pay(dbsession, payer, [partly_paid, whole])
    assert payment.amount == eur(60_00)
    assert {a.bill_id: a.amount_minor for a in payment.allocations} == {
        whole.id: 40_00,
        partly_paid.id: 20_00,
    }
    assert payment.status == state.CREATED
    assert payment.expires_at - payment.created_at == dt.timedelta(minutes=90)


def test_the_same_key_for_the_same_bills_returns_the_same_payment(dbsession, payer):
    bills = [factories.bill(dbsession, payer), factories.bill(dbsession, payer)]
    first = pay(dbsession, payer, bills)
    again = pay(dbsession, payer, list(reversed(bills)))
    assert again.id == first.id
    assert dbsession.scalar(select(func.count()).select_from(Payment)) == 1


def test_the_same_key_for_other_bills_is_refused(dbsession, payer):
    one, other = factories.bill(dbsession, payer), factories.bill(dbsession, payer)
    pay(dbsession, payer, [one])
    error = refused(pay, dbsession, payer, [one, other])
    assert (error.status, error.message) == (
        409,
        "This Idempotency-Key was used for a different payment.",
    )


@pytest.mark.parametrize("key", ["short", "k" * 129, "spaces are not allowed!!", None])
def test_a_malformed_idempotency_key_is_refused(dbsession, payer, key):
    bill = factories.bill(dbsession, payer)
    assert refused(pay, dbsession, payer, [bill], key=key).status == 422


def test_a_payment_of_no_bills_or_too_many_is_refused(dbsession, payer):
    assert refused(pay, dbsession, payer, []).status == 422
    error = refused(
        create_payment,
        dbsession,
        user=payer,
        bill_ids=list(range(1, MAX_BILLS_PER_PAYMENT + 2)),
        idempotency_key=KEY,
        provider="sandbox",
        timeout=dt.timedelta(minutes=90),
        now=now(dbsession),
    )
    assert error.status == 422


def test_a_bill_of_another_payer_looks_like_a_bill_that_does_not_exist(dbsession, payer):
    someone_else = factories.user(dbsession, name_id="citizen-bor")
    theirs = factories.bill(dbsession, someone_else)
    mine = factories.bill(dbsession, payer)
    not_theirs = refused(pay, dbsession, payer, [mine, theirs])
    missing = refused(
        create_payment,
        dbsession,
        user=payer,
        bill_ids=[mine.id, theirs.id + 1000],
        idempotency_key=KEY,
        provider="sandbox",
        timeout=dt.timedelta(minutes=90),
        now=now(dbsession),
    )
    assert (not_theirs.status, not_theirs.message) == (missing.status, missing.message)
    assert not_theirs.status == 404


def test_a_bill_with_nothing_left_to_pay_is_refused(dbsession, payer):
    bill = factories.bill(dbsession, payer)
    settled(dbsession, payer, [bill])
    error = refused(pay, dbsession, payer, [bill], key="another-key-0001")
    assert error.status == 409
    assert bill.number in error.message


def test_bills_in_different_currencies_are_paid_separately(dbsession, payer):
    euros = factories.bill(dbsession, payer, currency="EUR")
    dollars = factories.bill(dbsession, payer, currency="USD")
    assert refused(pay, dbsession, payer, [euros, dollars]).status == 422


def test_a_bill_in_a_payment_in_progress_is_not_paid_twice(dbsession, payer):
    bill = factories.bill(dbsession, payer)
    first = pay(dbsession, payer, [bill])
    error = refused(pay, dbsession, payer, [bill], key="another-key-0001")
    assert error.status == 409
    assert error.payment.id == first.id


def test_a_payment_cancelled_before_it_was_started_frees_its_bills(dbsession, payer):
    bill = factories.bill(dbsession, payer)
    first = pay(dbsession, payer, [bill])
    assert cancel_unstarted(first, now(dbsession)) is True
    assert first.status == state.CANCELLED
    assert pay(dbsession, payer, [bill], key="another-key-0001").id != first.id


def test_a_payment_sent_to_the_provider_cannot_be_cancelled_by_the_payer(dbsession, payer):
    payment = pay(dbsession, payer, [factories.bill(dbsession, payer)])
    state.transition(payment, state.STARTED, "hosted payment page opened", now(dbsession))
    assert cancel_unstarted(payment, now(dbsession)) is False
    assert payment.status == state.STARTED


# What the provider reports


def test_a_success_settles_every_bill_and_posts_the_money_once(dbsession, payer):
    bills = [factories.bill(dbsession, payer, amount=12_50), factories.bill(dbsession, payer)]
    payment = settled(dbsession, payer, bills)
    assert payment.status == state.SUCCEEDED
    assert payment.method == "card"
    assert [(t.from_status, t.to_status) for t in payment.transitions] == [
        (state.CREATED, state.SUCCEEDED)
    ]
    assert [view.status for view in with_status(dbsession, bills)] == ["paid", "paid"]
    assert ledger.account_balance(dbsession, "clearing:sandbox") == {"EUR": 25_00}
    before = postings(dbsession)
    assert (
        apply_provider_payment(dbsession, payment, report(payment), "repeated", now(dbsession))
        == []
    )
    assert postings(dbsession) == before
    assert len(payment.transitions) == 1


def test_a_report_of_another_amount_changes_nothing_but_flags_the_payment(dbsession, payer):
    bill = factories.bill(dbsession, payer, amount=20_00)
    payment = pay(dbsession, payer, [bill])
    before = postings(dbsession)
    apply_provider_payment(
        dbsession, payment, report(payment, amount=eur(19_99)), "test", now(dbsession)
    )
    assert payment.status == state.CREATED
    assert payment.needs_attention == "provider reports a different amount"
    assert postings(dbsession) == before


def test_a_failure_is_recorded_with_its_reason_and_a_later_success_only_flags_it(dbsession, payer):
    bill = factories.bill(dbsession, payer)
    payment = pay(dbsession, payer, [bill])
    apply_provider_payment(
        dbsession,
        payment,
        report(payment, "failed", failure_reason="card_declined"),
        "test",
        now(dbsession),
    )
    assert (payment.status, payment.failure_reason) == (state.FAILED, "card_declined")
    before = postings(dbsession)
    apply_provider_payment(dbsession, payment, report(payment), "late success", now(dbsession))
    assert payment.status == state.FAILED
    assert payment.needs_attention == "provider reports success on a failed payment"
    assert postings(dbsession) == before
    assert with_status(dbsession, [bill])[0].status == "open"


def test_a_success_reported_after_the_payment_expired_is_accepted(dbsession, payer):
    bill = factories.bill(dbsession, payer)
    payment = pay(dbsession, payer, [bill])
    state.transition(payment, state.EXPIRED, "not paid in time", now(dbsession))
    apply_provider_payment(dbsession, payment, report(payment), "late success", now(dbsession))
    assert payment.status == state.SUCCEEDED
    assert with_status(dbsession, [bill])[0].status == "paid"


def test_a_second_payment_of_a_paid_bill_is_refunded_for_what_it_paid_too_much(dbsession, payer):
    bill = factories.bill(dbsession, payer, amount=30_00)
    late = pay(dbsession, payer, [bill])
    state.transition(late, state.EXPIRED, "not paid in time", now(dbsession))
    settled(dbsession, payer, [bill], key="another-key-0001")
    (refund,) = apply_provider_payment(
        dbsession, late, report(late), "late success", now(dbsession)
    )
    assert late.status == state.SUCCEEDED
    assert late.needs_attention == f"overpayment: {bill.number}"
    assert (refund.amount, refund.status) == (eur(30_00), "requested")
    assert [(line.bill_id, line.amount_minor) for line in refund.lines] == [(bill.id, 30_00)]
    assert late.refundable == eur(0)
    assert overpaid_by_bill(dbsession, late) == {}


def test_the_state_machine_refuses_a_change_it_does_not_allow(dbsession, payer):
    payment = pay(dbsession, payer, [factories.bill(dbsession, payer)])
    state.transition(payment, state.FAILED, "declined", now(dbsession))
    with pytest.raises(state.IllegalTransition):
        state.transition(payment, state.SUCCEEDED, "too late", now(dbsession))
    assert payment.status == state.FAILED


# Refunds


def test_a_refund_names_each_bill_and_reserves_its_amount(dbsession, payer):
    one, two = factories.bill(dbsession, payer, amount=30_00), factories.bill(dbsession, payer)
    payment = settled(dbsession, payer, [one, two])
    refund = record_refund(
        dbsession, payment, {one.id: eur(10_00)}, payment.refundable, "  paid in error  "
    )
    assert (refund.amount, refund.reason, refund.status) == (
        eur(10_00),
        "paid in error",
        "requested",
    )
    assert [(line.bill_id, line.amount_minor) for line in refund.lines] == [(one.id, 10_00)]
    assert payment.refundable == eur(32_50)
    assert payment.status == state.SUCCEEDED
    assert with_status(dbsession, [one])[0].status == "paid"


def test_a_confirmed_refund_makes_the_bill_owed_again_and_moves_the_payment_on(dbsession, payer):
    one, two = factories.bill(dbsession, payer, amount=30_00), factories.bill(dbsession, payer)
    payment = settled(dbsession, payer, [one, two])
    first = record_refund(dbsession, payment, {one.id: eur(10_00)}, payment.refundable, "part")
    post_refund(dbsession, first, now(dbsession))
    assert first.status == "succeeded"
    assert payment.status == state.PARTLY_REFUNDED
    assert with_status(dbsession, [one])[0].status == "partly_paid"
    assert ledger.bill_balances(dbsession, [one.id]) == {one.id: 10_00}
    assert ledger.account_balance(dbsession, "clearing:sandbox") == {"EUR": 32_50}
    rest = record_refund(
        dbsession,
        payment,
        {one.id: eur(20_00), two.id: eur(12_50)},
        payment.refundable,
        "the rest",
    )
    post_refund(dbsession, rest, now(dbsession))
    assert payment.status == state.REFUNDED
    assert ledger.account_balance(dbsession, "clearing:sandbox") == {"EUR": 0}
    assert [a.refunded_minor for a in payment.allocations] == [
        a.amount_minor for a in payment.allocations
    ]


def test_a_bill_is_refunded_of_what_is_left_of_it_on_the_payment_that_settled_it(dbsession, payer):
    one, two = factories.bill(dbsession, payer, amount=30_00), factories.bill(dbsession, payer)
    payment = settled(dbsession, payer, [one, two])
    record_refund(dbsession, payment, {one.id: eur(10_00)}, payment.refundable, "asked, not sent")
    refund = refund_bill(dbsession, one, "application rejected")
    assert refund is not None and refund.amount == eur(20_00)
    assert [(line.bill_id, line.amount_minor) for line in refund.lines] == [(one.id, 20_00)]
    assert refund_bill(dbsession, one, "rejected twice") is None
    assert refund_bill(dbsession, factories.bill(dbsession, payer), "never paid") is None
    assert payment.refundable == eur(12_50)


def test_a_refund_is_posted_once_whoever_confirms_it(dbsession, payer):
    bill = factories.bill(dbsession, payer)
    payment = settled(dbsession, payer, [bill])
    refund = record_refund(dbsession, payment, {bill.id: eur(5_00)}, payment.refundable, "x")
    post_refund(dbsession, refund, now(dbsession))
    before = postings(dbsession)
    post_refund(dbsession, refund, now(dbsession))
    assert postings(dbsession) == before
    assert payment.allocations[0].refunded_minor == 5_00


def test_only_a_settled_payment_can_be_refunded(dbsession, payer):
    bill = factories.bill(dbsession, payer)
    payment = pay(dbsession, payer, [bill])
    error = refused(
        record_refund, dbsession, payment, {bill.id: eur(1_00)}, payment.refundable, "x"
    )
    assert error.status == 409


def test_a_refund_on_figures_the_clerk_did_not_see_is_refused(dbsession, payer):
    bill = factories.bill(dbsession, payer, amount=30_00)
    payment = settled(dbsession, payer, [bill])
    seen = payment.refundable
    record_refund(dbsession, payment, {bill.id: eur(10_00)}, seen, "first clerk")
    error = refused(record_refund, dbsession, payment, {bill.id: eur(10_00)}, seen, "second clerk")
    assert error.status == 409
    assert payment.refundable == eur(20_00)


def test_a_bill_cannot_be_refunded_beyond_what_the_payment_paid_on_it(dbsession, payer):
    one, two = factories.bill(dbsession, payer, amount=30_00), factories.bill(dbsession, payer)
    payment = settled(dbsession, payer, [one, two])
    record_refund(dbsession, payment, {two.id: eur(10_00)}, payment.refundable, "part")
    error = refused(
        record_refund, dbsession, payment, {two.id: eur(2_51)}, payment.refundable, "too much"
    )
    assert error.status == 422
    assert payment.refundable == eur(32_50)
    assert record_refund(
        dbsession, payment, {two.id: eur(2_50)}, payment.refundable, "what is left"
    ).amount == eur(2_50)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("none", "no bill chosen"),
        ("zero", "nothing to give back"),
        ("negative", "taking money"),
        ("another bill", "a bill the payment did not pay"),
        ("dollars", "a refund in another currency"),
        ("one euro", "   "),
    ],
)
def test_a_malformed_refund_is_refused_and_reserves_nothing(dbsession, payer, case, reason):
    bill = factories.bill(dbsession, payer)
    other = factories.bill(dbsession, payer)
    payment = settled(dbsession, payer, [bill])
    chosen = {
        "none": {},
        "zero": {bill.id: eur(0)},
        "negative": {bill.id: eur(-1_00)},
        "another bill": {other.id: eur(1_00)},
        "dollars": {bill.id: Money(1_00, "USD")},
        "one euro": {bill.id: eur(1_00)},
    }[case]
    assert (
        refused(record_refund, dbsession, payment, chosen, payment.refundable, reason).status == 422
    )
    assert payment.refundable == payment.amount
    assert dbsession.scalar(select(func.count()).select_from(Refund)) == 0
