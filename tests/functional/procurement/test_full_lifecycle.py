"""The issue's "done when", through the pages as the people involved use them, with time moved
only by the test clock:

1. a best price-quality tender with three bidders goes from the opening through a reverse
   auction (prices lowered in every round), the committee's scores, a disqualification, an
   award, a complaint upheld (its fee refunded, the tender back in evaluation), a second
   award, the standstill's end and the contract, the securities given back at the right times;
2. a lowest-price tender whose winner refuses to sign: the security forfeited, the next bidder
   awarded and signing.

At every step the tender's OCDS release package and record are valid against the project's
schemas, and the deposits account holds exactly the securities still held.
"""

from __future__ import annotations

from portal.billing import ledger
from portal.procurement.auction_jobs import finish_auctions
from portal.procurement.jobs import advance_tenders
from portal.procurement.models import Tender
from tests.functional.procurement.after_opening import Opened, browser, opened_tender
from tests.functional.procurement.auction_support import (
    at_slot,
    auction_of,
    auction_tender,
    step,
)
from tests.functional.procurement.complaint_support import (
    complaint_of,
    file,
    pay,
    set_fee,
    signed_in_payer,
)
from tests.functional.procurement.contract_support import SIGNED, record_contract
from tests.functional.procurement.ocds_support import packages, tags

HELD = "deposits:tender-bid-security"
KEPT = "revenue:tender-bid-security"
COMPLAINT_FEES = "revenue:tender-complaint-fee"
SECURITY = 1_000_00


def balance(dbsession, account: str) -> int:
    dbsession.expire_all()
    return ledger.account_balance(dbsession, account).get("EUR", 0)


def status_of(dbsession, made: Opened) -> str:
    dbsession.expire_all()
    return dbsession.get_one(Tender, made.tender.id).status


def evaluation_page(app, made: Opened):
    return app.get(f"/procurement/tenders/{made.tender.reference}/evaluation")


def decide(app, made: Opened, outcome: str, reason: str) -> str:
    """The buyer decides on the bid under examination; returns the name examined."""
    page = evaluation_page(app, made)
    examined = " ".join(page.html.find(id="examined").get_text(" ").split())
    form = page.forms["decision-form"]
    form["reason"] = reason
    form.submit("outcome", value=outcome, status=303)
    return examined


def award(app, made: Opened, reasons: str) -> None:
    form = evaluation_page(app, made).forms["award-form"]
    form["reasons"] = reasons
    form.submit(status=303)


def ocds_tags(testapp, made: Opened) -> list[list[str]]:
    """The release package's tags, once both packages are checked against their schemas."""
    releases, record = packages(testapp, made.tender.reference)
    assert record["records"][0]["ocid"] == releases["releases"][0]["ocid"]
    return tags(releases)


def test_auction_evaluation_complaint_second_award_and_contract(
    wsgi_app, devidp, sandbox, dbsession, clock, monkeypatch, departments, testapp
):
    set_fee(dbsession)
    made = auction_tender(
        wsgi_app, devidp, sandbox, dbsession, clock, monkeypatch, step_minor=1_000_00
    )
    assert status_of(dbsession, made) == "auction"
    assert balance(dbsession, HELD) == -3 * SECURITY
    assert ocds_tags(testapp, made)[-1] == ["tenderUpdate"]

    # the auction: A Eastbridge (190,000), B Northwind (182,400), C Southgate (176,950)
    auction = auction_of(dbsession, made)
    rounds = [
        [("rep-quinn", "185000"), ("rep-olga", "178000"), ("rep-peter", "175000")],
        [("rep-quinn", "176000"), ("rep-olga", "174000"), ("rep-peter", "173000")],
        [("rep-quinn", "172000"), ("rep-olga", "171000"), ("rep-peter", "170000")],
    ]
    for number, calls in enumerate(rounds, start=1):
        for position, (persona, price) in enumerate(calls):
            at_slot(clock, auction, number, position)
            step(made, persona, price)
    clock.set(auction.ends_at)
    assert finish_auctions(wsgi_app.registry) == 1
    assert status_of(dbsession, made) == "evaluation"
    finals = {b.label: b.price_minor for b in auction_of(dbsession, made).bidders}
    assert finals == {"A": 172_000_00, "B": 171_000_00, "C": 170_000_00}
    protocol = testapp.get(f"/tenders/{made.tender.reference}/auction/protocol.pdf")
    assert protocol.content_type == "application/pdf" and protocol.body.startswith(b"%PDF")

    # the committee scores delivery time (out of 40); the buyer reads the ranking
    mia = browser(wsgi_app, devidp, "clerk-mia")
    form = evaluation_page(mia, made).forms["scores-form"]
    criterion = next(c for c in made.tender.criteria if not c.is_price).id
    points = {"rep-olga": "38", "rep-peter": "20", "rep-quinn": "30"}
    for persona, value in points.items():
        form[f"score-{made.bid(dbsession, persona).public_id}-{criterion}"] = value
    form.submit(status=303)
    bruno = browser(wsgi_app, devidp, "buyer-bruno")
    page = evaluation_page(bruno, made)
    ranking = [
        " ".join(row.get_text(" ").split()) for row in page.html.select("#ranking-table tbody tr")
    ]
    # price scores: 170,000 / price x 60: Northwind 59.65 + 38, Eastbridge 59.30 + 30,
    # Southgate 60.00 + 20
    assert ranking[0].startswith("1 Northwind") and "97.65" in ranking[0]
    assert ranking[1].startswith("2 Eastbridge") and "89.30" in ranking[1]
    assert ranking[2].startswith("3 Southgate") and "80.00" in ranking[2]

    # Northwind is disqualified, Eastbridge qualified and awarded
    assert "Northwind" in decide(bruno, made, "disqualified", "No references of this size.")
    assert "Eastbridge" in decide(bruno, made, "qualified", "Meets every requirement.")
    award(bruno, made, "The best price-quality ratio among the qualified bids.")
    assert status_of(dbsession, made) == "standstill"
    # the losers' securities go back at the award, the winner's stays held
    assert balance(dbsession, HELD) == -SECURITY
    assert made.bid(dbsession, "rep-quinn").deposit.status == "held"
    assert {made.bid(dbsession, p).deposit.status for p in ("rep-olga", "rep-peter")} == {
        "released"
    }
    assert ocds_tags(testapp, made)[-1] == ["award"]

    # Northwind complains, pays the fee: registered; the reviewer upholds it
    olga = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-olga")
    complaint = complaint_of(
        dbsession,
        file(olga.app, made.tender.reference, "Our references were misread.", status=303),
    )
    assert complaint.status == "awaiting_payment"
    pay(olga, complaint)
    dbsession.expire_all()
    assert complaint.status == "registered"
    assert balance(dbsession, COMPLAINT_FEES) < 0  # the fee is revenue, for now
    rita = browser(wsgi_app, devidp, "reviewer-rita")
    queue = rita.get("/review/complaints")
    assert complaint.public_id in queue.text
    form = rita.get(f"/review/complaints/{complaint.public_id}").forms["decision-form"]
    form["outcome"] = "upheld"
    form["reason"] = "The references cover works of this size: the disqualification was wrong."
    form.submit(status=303)
    dbsession.expire_all()
    assert complaint.status == "upheld"
    assert status_of(dbsession, made) == "evaluation"
    assert balance(dbsession, COMPLAINT_FEES) == 0  # refunded through the billing core
    assert ocds_tags(testapp, made)[-1] == ["awardCancellation"]

    # back to qualification: every decision annulled, examined again from the best-ranked
    page = evaluation_page(bruno, made)
    assert "Northwind" in " ".join(page.html.find(id="examined").get_text(" ").split())
    assert "Northwind" in decide(bruno, made, "qualified", "References confirmed on review.")
    award(bruno, made, "Complaint upheld: Northwind's bid is the best qualified one.")
    assert status_of(dbsession, made) == "standstill"
    # no security is held any more: Northwind's went back at the first award (every bidder's
    # but the winner's, as the issue has it), Eastbridge's goes back at this one
    assert balance(dbsession, HELD) == 0
    assert made.bid(dbsession, "rep-quinn").deposit.status == "released"
    assert ocds_tags(testapp, made)[-1] == ["award"]

    # the standstill ends with no complaint: contracting; the buyer records the contract
    clock.advance(days=11)
    advance_tenders(wsgi_app.registry)
    assert status_of(dbsession, made) == "contracting"
    bruno = browser(wsgi_app, devidp, "buyer-bruno")
    record_contract(bruno, made.tender.reference, clock, value="171,000.00").submit(status=303)
    assert status_of(dbsession, made) == "complete"
    assert balance(dbsession, HELD) == 0 and balance(dbsession, KEPT) == 0
    document = testapp.get(f"/tenders/{made.tender.reference}/contract/document")
    assert document.body == SIGNED
    assert ocds_tags(testapp, made)[-1] == ["contract"]
    releases, record = packages(testapp, made.tender.reference)
    compiled = record["records"][0]["compiledRelease"]
    assert compiled["tender"]["status"] == "complete"
    assert [a["status"] for a in compiled["awards"]] == ["cancelled", "active"]
    assert compiled["contracts"][0]["value"] == {"amount": 171000, "currency": "EUR"}

    # the public page tells the whole story
    public = testapp.get(f"/tenders/{made.tender.reference}").text
    for event in ("Auction", "disqualified", "upheld", "Contract"):
        assert event.lower() in public.lower(), event


def test_the_winner_refuses_to_sign_and_the_next_bidder_is_awarded(
    wsgi_app, devidp, sandbox, dbsession, clock, departments, testapp
):
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock, quality=False)
    assert status_of(dbsession, made) == "evaluation"
    bruno = browser(wsgi_app, devidp, "buyer-bruno")
    # lowest price: Southgate 176,950, Northwind 182,400, Eastbridge 190,000
    assert "Southgate" in decide(bruno, made, "qualified", "Meets every requirement.")
    award(bruno, made, "The lowest price among the qualified bids.")
    assert balance(dbsession, HELD) == -SECURITY
    clock.advance(days=11)
    advance_tenders(wsgi_app.registry)
    assert status_of(dbsession, made) == "contracting"

    bruno = browser(wsgi_app, devidp, "buyer-bruno")
    page = bruno.get(f"/procurement/tenders/{made.tender.reference}/contract")
    form = page.forms["refusal-form"]
    form["refusal_reason"] = "Southgate declined to sign at the price bid."
    form.submit(status=303)
    assert status_of(dbsession, made) == "evaluation"
    assert balance(dbsession, HELD) == 0
    assert balance(dbsession, KEPT) == -SECURITY  # forfeited: the department's revenue
    peter = made.bid(dbsession, "rep-peter").deposit
    assert peter.status == "forfeited" and "declined to sign" in peter.close_reason
    assert ocds_tags(testapp, made)[-1] == ["awardCancellation"]

    # the next-ranked bid is qualified, awarded and signs
    assert "Northwind" in decide(bruno, made, "qualified", "Meets every requirement.")
    award(bruno, made, "The winner refused to sign; the next lowest qualified price.")
    clock.advance(days=11)
    advance_tenders(wsgi_app.registry)
    bruno = browser(wsgi_app, devidp, "buyer-bruno")
    record_contract(bruno, made.tender.reference, clock, value="182,400.00").submit(status=303)
    assert status_of(dbsession, made) == "complete"
    assert balance(dbsession, HELD) == 0 and balance(dbsession, KEPT) == -SECURITY
    assert ocds_tags(testapp, made)[-1] == ["contract"]
