"""Deposits on the ledger: held as a liability, then released through the provider or
forfeited to revenue, each exactly once."""

import datetime as dt

import pytest
from sqlalchemy import select

from portal.billing import (
    cancel_bill,
    forfeit_deposit,
    hold_deposit,
    ledger,
    payment_provider,
    release_deposit,
    settling_payment,
    with_status,
)
from portal.billing.models import Deposit, Payment
from portal.clock import clock as app_clock
from portal.db import registry_of
from portal.money import Money
from portal.refusals import Refusal
from portal.tasks import task_dbsession
from tests import factories
from tests.functional.backoffice.conftest import pay_at_provider, settle

HELD = "deposits:property-tax"
REVENUE = "revenue:property-tax"
CLEARING = "clearing:sandbox"


@pytest.fixture
def provider(wsgi_app):
    return payment_provider(wsgi_app.registry)


@pytest.fixture
def payer(dbsession):
    return factories.user(dbsession)


def now(session) -> dt.datetime:
    """What the app's clock says, as billing's callers pass it."""
    return app_clock(registry_of(session)).now()


def eur(minor):
    return Money(minor, "EUR")


def balance(dbsession, account):
    return ledger.account_balance(dbsession, account).get("EUR", 0)


def a_deposit(dbsession, payer, amount=500_00) -> Deposit:
    deposit = hold_deposit(
        dbsession,
        service=factories.service(dbsession),
        number="D-2026-0001",
        description="Deposit for the market stall",
        due_date=dt.date(2026, 12, 31),
        amount=eur(amount),
        now=now(dbsession),
        payer_user=payer,
    )
    dbsession.commit()
    return deposit


def lodge(dbsession, provider, sandbox, deposit: Deposit) -> Deposit:
    """``deposit`` paid by its payer through the provider, and settled."""
    payer = deposit.bill.payer_user
    payment = factories.payment(dbsession, payer, [deposit.bill])
    dbsession.commit()
    pay_at_provider(dbsession, provider, sandbox, payment)
    settle(provider, payment)
    dbsession.expire_all()
    return deposit


def in_session(session, deposit: Deposit) -> Deposit:
    return session.get(Deposit, deposit.id)


def test_a_deposit_is_owed_then_held_as_a_liability_never_as_revenue(
    dbsession, provider, sandbox, payer
):
    deposit = a_deposit(dbsession, payer)
    assert deposit.status == "held" and deposit.amount == eur(500_00)
    assert balance(dbsession, HELD) == -500_00
    assert balance(dbsession, REVENUE) == 0
    assert with_status(dbsession, [deposit.bill])[0].status == "open"

    deposit = lodge(dbsession, provider, sandbox, deposit)
    assert with_status(dbsession, [deposit.bill])[0].status == "paid"
    assert balance(dbsession, CLEARING) == 500_00
    assert balance(dbsession, HELD) == -500_00
    assert balance(dbsession, REVENUE) == 0


def test_forfeiting_moves_the_money_held_to_revenue_once(dbsession, provider, sandbox, payer):
    deposit = lodge(dbsession, provider, sandbox, a_deposit(dbsession, payer))
    clerk = factories.user(dbsession, "clerk-cene")
    forfeit_deposit(dbsession, deposit, "Stall left damaged", now(dbsession), clerk)
    dbsession.commit()

    assert balance(dbsession, HELD) == 0
    assert balance(dbsession, REVENUE) == -500_00
    assert balance(dbsession, CLEARING) == 500_00
    assert deposit.status == "forfeited" and deposit.closed_by_id == clerk.id
    assert deposit.close_reason == "Stall left damaged" and deposit.closed_at is not None
    with pytest.raises(Refusal, match="conflict: This deposit was forfeited already."):
        forfeit_deposit(dbsession, deposit, "again", now(dbsession))
    with pytest.raises(Refusal, match="conflict: This deposit was forfeited already."):
        release_deposit(dbsession, deposit, "changed my mind", now(dbsession))
    dbsession.rollback()
    assert balance(dbsession, REVENUE) == -500_00


def test_releasing_refunds_the_deposit_through_the_provider_once(
    dbsession, wsgi_app, provider, sandbox, payer
):
    deposit = lodge(dbsession, provider, sandbox, a_deposit(dbsession, payer))
    with task_dbsession(wsgi_app.registry) as session:
        refund = release_deposit(
            session, in_session(session, deposit), "Stall returned clean", now(session)
        )
        refund_id = refund.id
        assert refund.amount == eur(500_00) and refund.status == "requested"
    # sent to the provider once the release committed, and posted when it confirmed
    dbsession.expire_all()
    deposit = dbsession.get(Deposit, deposit.id)
    assert deposit.status == "released" and deposit.refund_id == refund_id
    assert deposit.refund.status == "succeeded"
    assert [(t.from_status, t.to_status) for t in deposit.refund.transitions] == [
        ("requested", "succeeded")
    ]
    assert balance(dbsession, HELD) == 0
    assert balance(dbsession, CLEARING) == 0
    assert balance(dbsession, REVENUE) == 0
    assert with_status(dbsession, [deposit.bill])[0].status == "paid"
    payment = dbsession.scalar(select(Payment).where(Payment.id == deposit.refund.payment_id))
    assert payment.status == "refunded"

    with pytest.raises(Refusal, match="conflict: This deposit was released already."):
        release_deposit(dbsession, deposit, "again", now(dbsession))
    with pytest.raises(Refusal, match="conflict: This deposit was released already."):
        forfeit_deposit(dbsession, deposit, "too late", now(dbsession))


def test_a_deposit_not_lodged_cannot_be_released_or_forfeited(dbsession, payer):
    deposit = a_deposit(dbsession, payer)
    with pytest.raises(Refusal, match="conflict: This deposit has not been lodged yet."):
        forfeit_deposit(dbsession, deposit, "no show", now(dbsession))
    with pytest.raises(Refusal, match="conflict: This deposit has not been lodged yet."):
        release_deposit(dbsession, deposit, "no show", now(dbsession))
    dbsession.rollback()
    assert balance(dbsession, HELD) == -500_00


def test_cancelling_an_unpaid_deposit_takes_it_back_from_the_deposits_account(dbsession, payer):
    deposit = a_deposit(dbsession, payer)
    cancel_bill(dbsession, deposit.bill, "stall not let", now(dbsession))
    dbsession.commit()
    assert balance(dbsession, HELD) == 0
    assert balance(dbsession, REVENUE) == 0
    assert balance(dbsession, f"receivable:user:{payer.id}") == 0


def test_a_release_the_provider_refuses_fails_its_refund_and_says_why(
    dbsession, wsgi_app, provider, sandbox, payer
):
    deposit = lodge(dbsession, provider, sandbox, a_deposit(dbsession, payer))
    payment, _share = settling_payment(dbsession, deposit.bill_id)
    # the money was already given back at the provider, behind the portal's back
    provider.refund(payment.provider_payment_id, eur(500_00), "refunded-at-the-provider")
    with task_dbsession(wsgi_app.registry) as session:
        release_deposit(session, in_session(session, deposit), "Stall returned clean", now(session))

    dbsession.expire_all()
    refund = dbsession.get(Deposit, deposit.id).refund
    assert refund.status == "failed"
    assert [(t.from_status, t.to_status, t.cause) for t in refund.transitions] == [
        ("requested", "failed", "refused by the provider: refund_exceeds_remaining")
    ]
    payment = dbsession.get(Payment, payment.id)
    assert payment.refunded_minor == 0 and payment.status == "succeeded"
    assert payment.needs_attention == f"refund {refund.public_id} refused by the provider"
    # the deposit is no longer held; what it credited the bill waits for a clerk
    assert balance(dbsession, HELD) == 0
    assert with_status(dbsession, [refund.lines[0].bill])[0].status == "overpaid"
