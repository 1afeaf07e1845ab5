"""While a tender's auction is yet to finish, nobody outside the committee and the buyers can
tell which organisation offered which price: the auction shows "Bidder A, B, C" with their
prices, so the opened prices beside the organisations (the public page's opened bids, the
opening protocol) wait for the auction's end."""

from __future__ import annotations

from portal.procurement.auction_jobs import finish_auctions
from tests.functional.procurement.after_opening import browser
from tests.functional.procurement.auction_support import auction_of, auction_tender

ORGANISATIONS = ("Northwind Supplies Ltd", "Southgate Builders Ltd", "Eastbridge Works Ltd")


def test_the_opened_prices_are_published_when_the_auction_ends(
    wsgi_app, devidp, sandbox, dbsession, clock, monkeypatch, departments, testapp
):
    made = auction_tender(
        wsgi_app, devidp, sandbox, dbsession, clock, monkeypatch, step_minor=1_000_00
    )
    reference = made.tender.reference
    protocol = f"/tenders/{reference}/protocol"
    rival = made.bidders["rep-olga"].app

    for visitor in (testapp, rival):
        page = visitor.get(f"/tenders/{reference}")
        assert page.html.find(id="opened-bids") is None
        assert page.html.find(id="prices-after-auction") is not None
        assert page.html.find(id="protocol") is None
        assert "€176,950.00" not in page.text and "€190,000.00" not in page.text
        visitor.get(protocol, status=404)
    # the committee and the buyers have had them since the opening
    for insider in ("clerk-clara", "buyer-bruno"):
        assert browser(wsgi_app, devidp, insider).get(protocol).body.startswith(b"%PDF")

    clock.set(auction_of(dbsession, made).ends_at)
    assert finish_auctions(wsgi_app.registry) == 1
    page = testapp.get(f"/tenders/{reference}")
    opened = page.html.find(id="opened-bids").get_text(" ", strip=True)
    assert all(name in opened for name in ORGANISATIONS)
    assert page.html.find(id="prices-after-auction") is None
    assert testapp.get(protocol).body.startswith(b"%PDF")
