"""The deadline, by the server's clock only: a submission one second before it is accepted, one
at it is refused, whether or not the periodic job has moved the tender on; withdrawing and
confirming end at the deadline too."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from portal.money import Money
from portal.procurement.bids import draft_of
from portal.procurement.models import BidVersion
from tests.functional.procurement.bidding import (
    NORTHWIND,
    SOUTHGATE,
    Bidder,
    bid_of,
    needs_bid_receipts,
    open_tender,
)


@pytest.fixture
def tender(dbsession, clock):
    return open_tender(dbsession, clock, quality=False)


@pytest.fixture
def bidders(signed_in, testapp, sandbox, dbsession, tender, wsgi_app, devidp):
    import webtest

    from tests.conftest import sign_in

    needs_bid_receipts(wsgi_app)
    olga = Bidder(signed_in("rep-olga"), sandbox, dbsession, tender.reference)
    other = webtest.TestApp(
        wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    )
    assert sign_in(other, devidp, "rep-peter").status_int == 303
    peter = Bidder(other, sandbox, dbsession, tender.reference)
    olga.prepare("100000")
    peter.prepare("90000")
    return olga, peter


def test_one_second_before_the_deadline_is_in_and_at_the_deadline_is_out(
    bidders, dbsession, tender, clock, wsgi_app
):
    olga, peter = bidders
    deadline = tender.bids_until
    clock.set(deadline - dt.timedelta(seconds=1))
    olga.submit()
    (version,) = bid_of(dbsession, tender, NORTHWIND).versions
    assert version.submitted_at < deadline
    assert version.submitted_at == (deadline - dt.timedelta(seconds=1)).replace(microsecond=0)

    # Peter's page was loaded in time; he presses "Submit" at the deadline
    form = peter.page().forms["submit-form"]
    clock.set(deadline)
    refused = form.submit(status=409)
    assert "the deadline has passed" in refused
    assert bid_of(dbsession, tender, SOUTHGATE).versions == []
    kept, _answers = draft_of(bid_of(dbsession, tender, SOUTHGATE), wsgi_app.registry["pii_vault"])
    assert kept == Money(90000_00, "EUR")  # kept, unsealed
    # the tender's stored status is still "open": only the request's clock refused it
    dbsession.refresh(tender)
    assert tender.status in ("questions", "bidding")
    page = peter.page()
    assert "submit-form" not in page.forms and "The deadline has passed" in page
    # withdrawing is over too, and the sealed bid stays as it was
    olga.app.post(
        f"/tenders/{tender.reference}/bid/withdraw",
        {"csrf_token": token(olga)},
        headers={"Referer": "https://localhost/"},
        status=409,
    )
    assert bid_of(dbsession, tender, NORTHWIND).status == "submitted"
    assert dbsession.scalar(select(func.count()).select_from(BidVersion)) == 1


def test_confirming_ends_at_the_deadline(bidders, dbsession, tender, clock):
    olga, _peter = bidders
    olga.submit()
    bid = bid_of(dbsession, tender, NORTHWIND)
    bid.needs_confirmation = True
    dbsession.commit()
    clock.set(tender.bids_until + dt.timedelta(seconds=5))
    olga.app.post(
        f"/tenders/{tender.reference}/bid/confirm",
        {"csrf_token": token(olga)},
        headers={"Referer": "https://localhost/"},
        status=409,
    )
    assert bid_of(dbsession, tender, NORTHWIND).needs_confirmation


def token(bidder) -> str:
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', bidder.page().text).group(1)
