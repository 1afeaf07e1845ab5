"""A three-bidder reverse e-auction from the opening to the evaluation: the bidders lower
their prices in every round in their slots (called from the highest price to the lowest),
the watchers see labels only, the job finishes it, the protocol states the final prices and
the evaluation reads them."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from portal.procurement import prices
from portal.procurement.auction_jobs import finish_auctions
from portal.procurement.models import TenderTransition
from tests.functional.procurement.after_opening import browser
from tests.functional.procurement.auction_support import (
    DELAY_MINUTES,
    ORGANISATIONS,
    SLOT_SECONDS,
    app_of,
    at_slot,
    auction_of,
    auction_tender,
    auction_url,
    label_of,
    step,
    steps,
)
from tests.functional.procurement.test_procurement_documents import attachment, pdf_text


def test_three_bidders_lower_their_prices_in_every_round(
    wsgi_app, devidp, sandbox, dbsession, clock, monkeypatch, departments, tmp_path
):
    made = auction_tender(
        wsgi_app, devidp, sandbox, dbsession, clock, monkeypatch, step_minor=1_000_00
    )
    tender = made.tender
    dbsession.refresh(tender)
    assert tender.status == "auction"
    auction = auction_of(dbsession, made)
    assert auction.starts_at == tender.opened_at + dt.timedelta(minutes=DELAY_MINUTES)
    assert auction.slot_seconds == SLOT_SECONDS
    assert auction.ends_at == auction.starts_at + dt.timedelta(seconds=3 * 3 * SLOT_SECONDS)
    # labels follow the opened prices from the highest: Eastbridge 190,000, Northwind, Southgate
    labels = {persona: label_of(dbsession, made, persona) for persona in made.bidders}
    assert labels == {"rep-quinn": "A", "rep-olga": "B", "rep-peter": "C"}

    # before the start anyone may watch; the bidder sees the form and the order of round 1
    watcher = browser(wsgi_app, devidp, "citizen-ana")
    page = watcher.get(auction_url(made), status=200)
    assert "has not started yet" in page.text
    assert "step-form" not in page.forms
    assert '<noscript><meta http-equiv="refresh"' in page.text
    public = watcher.get(f"/tenders/{tender.reference}", status=200)
    assert public.html.select_one("#auction-link")["href"] == auction_url(made)
    assert public.html.select_one("#auction-fact").get_text() == "Yes; minimum step €1,000.00"
    assert 'src="/__static/auction.js' in page.text or "auction.js" in page.text

    # round 1: A, B, C in this order; Northwind (B) goes below Southgate
    at_slot(clock, auction, 1, 0)
    # without JavaScript, the bidder called reloads at the end of the slot, watchers sooner
    called = app_of(made, "rep-quinn").get(auction_url(made)).html
    refresh = called.select_one("noscript meta")["content"]
    assert 45 <= int(refresh) <= 51
    refresh = watcher.get(auction_url(made)).html.select_one("noscript meta")["content"]
    assert refresh == "30"
    step(made, "rep-quinn", "185,000.00")
    at_slot(clock, auction, 1, 1)
    step(made, "rep-olga", "174000")
    at_slot(clock, auction, 1, 2)
    step(made, "rep-peter", "175000.00")
    # round 2: called from the highest price: A (185,000), C (175,000), B (174,000)
    at_slot(clock, auction, 2, 0, seconds=45)
    status = app_of(made, "rep-olga").get(auction_url(made, ".json"), status=200).json
    assert status["phase"] == "running" and status["round"] == 2 and status["called"] == "A"
    assert [slot["label"] for slot in status["order"]] == ["A", "C", "B"]
    assert status["mine"] == ["B"]
    step(made, "rep-quinn", "173000")
    at_slot(clock, auction, 2, 1)
    step(made, "rep-peter", "172000")
    at_slot(clock, auction, 2, 2)
    step(made, "rep-olga", "171000")

    # mid-auction, nobody sees who is behind a label
    at_slot(clock, auction, 3, 0, seconds=1)
    for app in (watcher, app_of(made, "rep-olga")):
        for url in (auction_url(made), auction_url(made, ".json")):
            text = app.get(url, status=200).text
            assert not any(name in text for name in ORGANISATIONS), url
            assert "Bidder A" in text
    mine = app_of(made, "rep-peter").get(auction_url(made), status=200)
    assert "Bidder C <strong>(you)</strong>" in mine.text

    # round 3: A (173,000), C (172,000), B (171,000); C keeps its price
    step(made, "rep-quinn", "170000")
    at_slot(clock, auction, 3, 1)
    kept = step(made, "rep-peter")
    assert kept.follow().status_int == 200
    at_slot(clock, auction, 3, 2)
    step(made, "rep-olga", "168,500.00")

    recorded = steps(dbsession, made)
    assert recorded == [
        (1, "A", 18500000, False),
        (1, "B", 17400000, False),
        (1, "C", 17500000, False),
        (2, "A", 17300000, False),
        (2, "C", 17200000, False),
        (2, "B", 17100000, False),
        (3, "A", 17000000, False),
        (3, "C", 17200000, True),
        (3, "B", 16850000, False),
    ]
    lowest = [min(p for r, _label, p, _kept in recorded if r == n) for n in (1, 2, 3)]
    assert lowest == sorted(lowest, reverse=True) and len(set(lowest)) == 3

    # the job finishes it after the last slot: final prices, protocol, evaluation
    clock.set(auction.ends_at)
    assert finish_auctions(wsgi_app.registry) == 1
    assert finish_auctions(wsgi_app.registry) == 0
    dbsession.expire_all()
    dbsession.refresh(tender)
    assert tender.status == "evaluation"
    auction = auction_of(dbsession, made)
    assert auction.status == "finished" and auction.finished_at >= auction.ends_at
    finals = {b.label: b.price_minor for b in auction.bidders}
    assert finals == {"A": 17000000, "B": 16850000, "C": 17200000}
    by_org = {
        v.bid.organisation.registration_number: v.price.minor
        for v in prices.valid_bids(dbsession, tender)
    }
    assert by_org == {"EB-500600": 17000000, "NW-100200": 16850000, "SG-300400": 17200000}
    transition = dbsession.scalars(
        select(TenderTransition).where(
            TenderTransition.tender_id == tender.id, TenderTransition.to_status == "evaluation"
        )
    ).one()
    assert transition.from_status == "auction" and transition.actor_id is None

    page = watcher.get(auction_url(made), status=200)
    assert "has finished" in page.text
    assert "<noscript>" not in page.text
    assert "step-form" not in page.forms
    response = page.click(href=auction_url(made, "/protocol.pdf"))
    assert response.content_type == "application/pdf"
    text = pdf_text(response.body, tmp_path, "auction")
    assert "Auction protocol" in text and tender.reference in text
    for line_start, final in (
        ("Bidder A", "€170,000.00"),
        ("Bidder B", "€168,500.00"),
        ("Bidder C", "€172,000.00"),
    ):
        (line,) = [
            row for row in text.splitlines() if row.strip().startswith(line_start) and "Ltd" in row
        ]
        assert line.rstrip().endswith(final), line
    assert "Eastbridge Works Ltd" in text and "Slot not used" not in text
    assert text.count("Kept") == 1
    data = attachment(response.body, tmp_path, "auction-protocol.json")
    assert {b["label"]: b["final_price_minor"] for b in data["bidders"]} == finals
    assert [len(r["steps"]) for r in data["rounds"]] == [3, 3, 3]
    status = watcher.get(auction_url(made, ".json"), status=200).json
    assert status["phase"] == "finished"
    assert json.dumps(status).count("Ltd") == 0
