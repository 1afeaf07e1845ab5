"""Every step the server refuses, with its message, changing nothing; the percentage step;
the auction nobody finishes but a reader; no auction with fewer than two valid bids."""

from __future__ import annotations

from sqlalchemy import select

from portal.procurement import state
from portal.procurement.auction_jobs import finish_auctions
from portal.procurement.models import Auction, AuctionStep, TenderTransition
from tests.functional.procurement.after_opening import browser, opened_tender
from tests.functional.procurement.auction_support import (
    app_of,
    at_slot,
    auction_of,
    auction_tender,
    auction_url,
    refusal_text,
    step,
    steps,
    token,
)


def test_every_refused_step_says_why_and_changes_nothing(
    wsgi_app, devidp, sandbox, dbsession, clock, monkeypatch, departments
):
    made = auction_tender(
        wsgi_app, devidp, sandbox, dbsession, clock, monkeypatch, step_minor=1_000_00
    )
    auction = auction_of(dbsession, made)
    # labels: A Eastbridge (quinn, 190,000), B Northwind (olga), C Southgate (peter)

    refused = step(made, "rep-quinn", "185000", status=409)
    assert "The auction is not running." in refusal_text(refused)

    at_slot(clock, auction, 1, 0)
    refused = step(made, "rep-olga", "180000", status=409)
    assert "This is not your slot." in refusal_text(refused)
    refused = step(made, "rep-olga", status=409)
    assert "This is not your slot." in refusal_text(refused)

    refused = step(made, "rep-quinn", "195,000.00", status=422)
    assert "above your last price of €190,000.00" in refusal_text(refused)
    assert refused.html.select_one("#price")["value"] == "195,000.00"
    refused = step(made, "rep-quinn", "189,500.00", status=422)
    assert (
        "Lower your price by at least the minimum step of €1,000.00, to €189,000.00 or less"
        in refusal_text(refused)
    )
    refused = step(made, "rep-quinn", "a lot less", status=422)
    assert "Enter your new price in EUR" in refusal_text(refused)
    refused = step(made, "rep-quinn", "0", status=422)
    assert "Enter a price above zero." in refusal_text(refused)

    citizen = browser(wsgi_app, devidp, "citizen-ana")
    citizen.post(
        auction_url(made, "/step"),
        {"csrf_token": token(citizen), "price": "1000", "action": "lower"},
        headers={"Referer": "https://localhost/"},
        status=403,
    )
    quinn = app_of(made, "rep-quinn")
    quinn.post(auction_url(made, "/step"), {"price": "185000", "action": "lower"}, status=400)
    assert steps(dbsession, made) == []
    assert {b.label: b.price_minor for b in auction_of(dbsession, made).bidders} == {
        "A": 19000000,
        "B": 18240000,
        "C": 17695000,
    }

    step(made, "rep-quinn", "189000")
    refused = step(made, "rep-quinn", "188000", status=409)
    assert "You have made your step in this round already." in refusal_text(refused)
    assert steps(dbsession, made) == [(1, "A", 18900000, False)]

    # a form kept open past the end is refused; the job has not run, the next reader finishes
    stale = app_of(made, "rep-olga").get(auction_url(made), status=200).forms["step-form"]
    clock.set(auction.ends_at)
    stale["price"] = "150000"
    refused = stale.submit("action", value="lower", status=409)
    assert "The auction is not running." in refusal_text(refused)
    assert len(steps(dbsession, made)) == 1

    page = citizen.get(auction_url(made), status=200)
    assert "has finished" in page.text
    dbsession.expire_all()
    assert made.tender.status == "evaluation"
    recorded = steps(dbsession, made)
    assert len(recorded) == 9 and [s for s in recorded if not s[3]] == [(1, "A", 18900000, False)]
    unused = dbsession.scalars(select(AuctionStep).where(AuctionStep.by_id.is_(None))).all()
    assert len(unused) == 8 and all(s.kept for s in unused)
    protocol = citizen.get(auction_url(made, "/protocol.pdf"), status=200)
    assert protocol.content_type == "application/pdf"


def test_a_percentage_step_and_a_representative_who_is_not_a_bidder(
    wsgi_app, devidp, sandbox, dbsession, clock, monkeypatch, departments
):
    made = auction_tender(
        wsgi_app,
        devidp,
        sandbox,
        dbsession,
        clock,
        monkeypatch,
        prices={"rep-olga": "182400.00", "rep-peter": "176950.00"},
        step_basis_points=50,
    )
    auction = auction_of(dbsession, made)
    assert [b.label for b in auction.bidders] == ["A", "B"]
    quinn = browser(wsgi_app, devidp, "rep-quinn")
    page = quinn.get(auction_url(made), status=200)
    assert "0.5%" in page.text and "step-form" not in page.forms

    at_slot(clock, auction, 1, 0)
    refused = quinn.post(
        auction_url(made, "/step"),
        {"csrf_token": token(quinn), "price": "100000", "action": "lower"},
        headers={"Referer": "https://localhost/"},
        status=403,
    )
    assert "You are not a bidder of this auction." in refused.text
    # 0.5 % of 182,400.00 is 912.00
    refused = step(made, "rep-olga", "181,500.00", status=422)
    assert "minimum step of €912.00, to €181,488.00 or less" in refusal_text(refused)
    step(made, "rep-olga", "181,488.00")
    # 0.5 % of 176,950.00 is 884.75
    at_slot(clock, auction, 1, 1)
    refused = step(made, "rep-peter", "176,066.00", status=422)
    assert "minimum step of €884.75" in refusal_text(refused)
    step(made, "rep-peter", "176,065.25")
    # round 2: 0.5 % of 181,488.00 is 907.44
    at_slot(clock, auction, 2, 0)
    refused = step(made, "rep-olga", "180,581.00", status=422)
    assert "minimum step of €907.44, to €180,580.56 or less" in refusal_text(refused)
    assert steps(dbsession, made) == [(1, "A", 18148800, False), (1, "B", 17606525, False)]

    # a tender cancelled during its auction: nobody steps any more, nothing finishes it
    dbsession.refresh(made.tender)
    state.transition(dbsession, made.tender, state.CANCELLED, now=clock.now(), cause="test")
    dbsession.commit()
    olga = app_of(made, "rep-olga")
    page = olga.get(auction_url(made), status=200)
    assert "cancelled with the tender" in page.text and "step-form" not in page.forms
    refused = olga.post(
        auction_url(made, "/step"),
        {"csrf_token": token(olga), "price": "170000", "action": "lower"},
        headers={"Referer": "https://localhost/"},
        status=409,
    )
    assert "The auction is not running." in refused.text
    clock.set(auction.ends_at)
    assert finish_auctions(wsgi_app.registry) == 0
    assert olga.get(auction_url(made, ".json"), status=200).json["phase"] == "cancelled"
    assert len(steps(dbsession, made)) == 2


def test_fewer_than_two_valid_bids_go_straight_to_the_evaluation(
    wsgi_app, devidp, sandbox, dbsession, clock, monkeypatch, departments
):
    made = auction_tender(
        wsgi_app,
        devidp,
        sandbox,
        dbsession,
        clock,
        monkeypatch,
        prices={"rep-olga": "182400.00"},
        step_minor=500_00,
    )
    dbsession.expire_all()
    assert made.tender.status == "evaluation"
    assert dbsession.scalars(select(Auction).where(Auction.tender_id == made.tender.id)).all() == []
    (transition,) = dbsession.scalars(
        select(TenderTransition).where(
            TenderTransition.tender_id == made.tender.id, TenderTransition.from_status == "opened"
        )
    ).all()
    assert transition.to_status == "evaluation" and "no auction" in transition.cause
    app_of(made, "rep-olga").get(auction_url(made), status=404)


def test_without_an_auction_the_opened_tender_goes_to_its_evaluation(
    wsgi_app, devidp, sandbox, dbsession, clock, departments
):
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock)
    assert made.tender.status == "evaluation"
    browser(wsgi_app, devidp, "citizen-ana").get(
        f"/tenders/{made.tender.reference}/auction.json", status=404
    )
