"""A bid never submitted leaves no money stuck: "Pay now" ends at the deadline, and once the
tender takes no more bids the periodic job gives a lodged security back, cancels what is
unpaid and keeps a paid fee (the department's revenue), also for a payment that settles
after the deadline; a cancellation goes on past a deposit a withdrawal released meanwhile."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
import transaction
import webtest
import zope.sqlalchemy
from sqlalchemy import func, select

from portal.billing import ledger, with_status
from portal.billing.models import Refund
from portal.procurement.jobs import advance_tenders
from portal.procurement.models import Tender
from portal.procurement.tenders import cancel_tender
from tests.conftest import sign_in
from tests.functional.billing.conftest import deliver, notifications_for
from tests.functional.procurement.bidding import (
    NORTHWIND,
    SOUTHGATE,
    Bidder,
    bid_of,
    open_tender,
)
from tests.sandbox.conftest import SUCCESS

FEE_REVENUE = "revenue:tender-bid-fee"
HELD = "deposits:tender-bid-security"
AFTER = dt.timedelta(minutes=1)


def balance(dbsession, account: str) -> int:
    dbsession.expire_all()
    return ledger.account_balance(dbsession, account).get("EUR", 0)


def statuses(dbsession, bid) -> list[str]:
    return [view.status for view in with_status(dbsession, [bid.fee_bill, bid.deposit.bill])]


@pytest.fixture
def tender(dbsession, clock):
    return open_tender(dbsession, clock, quality=False)


@pytest.fixture
def olga(signed_in, sandbox, dbsession, tender):
    return Bidder(signed_in("rep-olga"), sandbox, dbsession, tender.reference)


@pytest.fixture
def peter(wsgi_app, devidp, sandbox, dbsession, tender):
    app = webtest.TestApp(
        wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    )
    assert sign_in(app, devidp, "rep-peter").status_int == 303
    return Bidder(app, sandbox, dbsession, tender.reference)


def test_pay_now_is_offered_only_before_the_deadline(olga, tender, clock):
    olga.start()
    page = olga.page()
    assert "pay-form" in page.forms
    assert "a paid bid fee is not refunded" in page.text
    clock.set(tender.bids_until)
    page = olga.page()
    assert "pay-form" not in page.forms
    assert "not submitted before the tender closed" in page.text
    assert "a paid bid fee is not refunded" in page.text


def test_after_the_deadline_a_paid_security_goes_back_and_unpaid_bills_are_cancelled(
    olga, peter, dbsession, tender, clock, wsgi_app
):
    olga.start()
    olga.save("100000")
    olga.pay()
    peter.start()
    assert bid_of(dbsession, tender, NORTHWIND).draft_sealed is not None
    assert balance(dbsession, HELD) == -2_000_00  # both securities asked, one lodged

    clock.set(tender.bids_until + AFTER)
    advance_tenders(wsgi_app.registry)
    dbsession.expire_all()
    assert dbsession.get(Tender, tender.id).status == "awaiting_opening"
    paid = bid_of(dbsession, tender, NORTHWIND)
    assert paid.status == "lapsed" and paid.draft_sealed is None  # the draft is forgotten
    assert paid.deposit.status == "released" and paid.deposit.refund is not None
    assert "not submitted by the deadline" in paid.deposit.close_reason
    assert statuses(dbsession, paid)[0] == "paid"  # the fee is kept: the department's revenue
    assert balance(dbsession, HELD) == 0
    assert balance(dbsession, FEE_REVENUE) == -50_00
    unpaid = bid_of(dbsession, tender, SOUTHGATE)
    assert unpaid.status == "lapsed" and statuses(dbsession, unpaid) == ["cancelled", "cancelled"]
    page = olga.page()
    assert "Not submitted by the deadline" in page.text and "pay-form" not in page.forms

    # every minute again: nothing more happens
    clock.advance(minutes=1)
    advance_tenders(wsgi_app.registry)
    assert dbsession.scalar(select(func.count()).select_from(Refund)) == 1
    assert balance(dbsession, HELD) == 0


def test_a_payment_settling_after_the_deadline_is_given_back_on_the_next_run(
    olga, dbsession, tender, clock, wsgi_app, sandbox
):
    # a deadline near enough to the real time for the provider's signed notification to be
    # within its tolerance once the clock is past it
    tender.bids_until = clock.now() + dt.timedelta(minutes=2)
    dbsession.commit()
    olga.start()
    # the payment is under way at the provider when the deadline passes
    response = olga.page().forms["pay-form"].submit(status=303)
    hosted = olga.payer.checkout(response)
    clock.set(tender.bids_until + AFTER)
    advance_tenders(wsgi_app.registry)
    bid = bid_of(dbsession, tender, NORTHWIND)
    assert bid.status == "draft"  # left for the next run: its bills are being paid
    assert statuses(dbsession, bid) == ["open", "open"]

    assert olga.payer.enter_card(hosted, SUCCESS).status_code == 303
    payment_id = urlsplit(response.location).path.split("/")[2]
    (notification,) = notifications_for(sandbox, payment_id)
    assert deliver(olga.app, notification).json == {"status": "processed"}
    assert statuses(dbsession, bid_of(dbsession, tender, NORTHWIND)) == ["paid", "paid"]

    clock.advance(minutes=1)
    advance_tenders(wsgi_app.registry)
    bid = bid_of(dbsession, tender, NORTHWIND)
    assert bid.status == "lapsed" and bid.deposit.status == "released"
    assert statuses(dbsession, bid)[0] == "paid"
    assert balance(dbsession, HELD) == 0


def test_cancelling_goes_on_past_a_deposit_a_withdrawal_released_just_before(
    olga, peter, dbsession, tender, clock, wsgi_app, engine
):
    """The buyer's request read Olga's security as held; her withdrawal released it before
    the cancellation got to it. The cancellation still goes through, and Peter's lodged
    security is given back."""
    olga.start()
    olga.pay()
    peter.start()
    peter.pay()
    manager = transaction.TransactionManager(explicit=True)
    with manager:
        # the buyer's request, on a connection that does not hold SQLite's write lock while
        # it reads (PostgreSQL's reads lock nothing either)
        buyers = wsgi_app.registry["dbsession_factory"](bind=engine, info={"tm": manager})
        zope.sqlalchemy.register(buyers, transaction_manager=manager)
        read = buyers.get(Tender, tender.id)
        olgas = bid_of(buyers, read, NORTHWIND)
        assert olgas.deposit.status == "held" and len(read.bids) == 2

        olga.page().forms["withdraw-form"].submit(status=303)

        cancel_tender(buyers, read, actor=read.created_by, reason="Postponed.", now=clock.now())
    dbsession.expire_all()
    assert dbsession.get(Tender, tender.id).status == "cancelled"
    assert bid_of(dbsession, tender, NORTHWIND).deposit.status == "released"
    assert bid_of(dbsession, tender, SOUTHGATE).deposit.status == "released"
    assert dbsession.scalar(select(func.count()).select_from(Refund)) == 2
    assert balance(dbsession, HELD) == 0
