"""The whole opening through the pages: two members unlock, the bids are opened and listed
with their flags, the opened documents go to the committee and the buyers only, and the
protocol is published.

Completing an opening issues the OpeningProtocol document, whose kind is written on the
**kinds** branch: those tests skip while it is not registered (``protocol_kind``).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import webtest
from sqlalchemy import select

from portal.documents.kinds import document_issuer
from portal.procurement import state
from portal.procurement.bid_content import BidDocument
from portal.procurement.models import (
    BidVersion,
    OpeningProtocol,
    Tender,
    TenderCriterion,
    WaitingShare,
)
from tests import factories
from tests.functional.procurement.opening_support import (
    PDF,
    protocol_kind,  # noqa: F401 (a fixture)
    sealed_bid,
    unlock_on_page,
)


@pytest.fixture
def tender(dbsession, clock):
    made = factories.tender(dbsession, now=clock.now())
    offer = BidDocument("offer.pdf", "application/pdf", PDF)
    sealed_bid(
        dbsession, made, "Northwind Supplies Ltd", 198_500_00, now=clock.now(), documents=(offer,)
    )
    late_to_confirm = sealed_bid(
        dbsession, made, "Southgate Builders Ltd", 201_250_00, now=clock.now()
    )
    late_to_confirm.bid.needs_confirmation = True
    tampered = sealed_bid(dbsession, made, "Eastfield Works Ltd", 175_000_00, now=clock.now())
    tampered.sealed = tampered.sealed[:-1] + bytes([tampered.sealed[-1] ^ 0x80])
    dbsession.commit()
    clock.set(made.opening_at + dt.timedelta(minutes=5))
    return made


def opened_by_clara_and_dan(signed_in, tender):
    unlock_on_page(signed_in("clerk-clara"), tender.reference)
    app = signed_in("clerk-dan")
    page = unlock_on_page(app, tender.reference).follow()
    assert "The bids are opened." in page.text
    return app, page


def test_the_second_member_opens_the_bids_and_the_page_lists_them(
    signed_in,
    dbsession,
    tender,
    protocol_kind,  # noqa: F811
):
    _app, page = opened_by_clara_and_dan(signed_in, tender)
    dbsession.expire_all()
    assert dbsession.get(Tender, tender.id).status == state.EVALUATION
    assert dbsession.scalars(select(WaitingShare)).all() == []
    rows = {row.th.text: row for row in page.html.select("#bids tbody tr")}
    assert set(rows) == {"Northwind Supplies Ltd", "Southgate Builders Ltd", "Eastfield Works Ltd"}
    northwind = rows["Northwind Supplies Ltd"].text
    assert "198,500.00" in northwind and "offer.pdf" in northwind
    assert "UTC" in northwind
    versions = {v.bid.organisation.name: v for v in dbsession.scalars(select(BidVersion))}
    assert versions["Northwind Supplies Ltd"].sha256 in northwind
    assert "Not confirmed after the last amendment" in rows["Southgate Builders Ltd"].text
    eastfield = rows["Eastfield Works Ltd"].text
    assert "Tampered or unreadable" in eastfield
    assert "does not match the SHA-256 on its receipt" in eastfield
    assert "175,000" not in eastfield
    protocol = dbsession.scalar(select(OpeningProtocol))
    assert protocol.tender.id == tender.id
    assert protocol.owner.name_id == "clerk-dan"


def test_the_opened_documents_go_to_the_committee_and_the_buyers_only(
    signed_in,
    tender,
    testapp,
    protocol_kind,  # noqa: F811
):
    app, page = opened_by_clara_and_dan(signed_in, tender)
    link = page.html.select_one("#bids a[href*='/opening/documents/']")["href"]
    download = app.get(link, status=200)
    assert download.body == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith('attachment; filename="offer.pdf"')
    bruno = signed_in("buyer-bruno")
    buyers_page = bruno.get(f"/procurement/tenders/{tender.reference}")
    assert (
        buyers_page.html.select_one("#opened-bids a[href*='/opening/documents/']")["href"] == link
    )
    bruno.get(link, status=200)
    signed_in("rep-olga").get(link, status=403)


def test_the_protocol_is_published_once_opened(
    signed_in,
    tender,
    wsgi_app,
    protocol_kind,  # noqa: F811
):
    opened_by_clara_and_dan(signed_in, tender)
    anyone = webtest.TestApp(
        wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    )
    answer = anyone.get(f"/tenders/{tender.reference}/protocol", expect_errors=True)
    assert answer.status_int in (200, 503)
    if answer.status_int == 200:
        assert answer.content_type == "application/pdf"
        assert answer.body.startswith(b"%PDF")
    else:
        assert answer.headers["Retry-After"] == "30"


def test_there_is_no_protocol_before_the_opening(testapp, tender):
    answer = testapp.get(f"/tenders/{tender.reference}/protocol", status=404)
    assert "no opening protocol yet" in answer.text


def test_the_documents_of_an_unopened_tender_are_nobodys(signed_in, tender):
    signed_in("clerk-clara").get(
        f"/procurement/tenders/{tender.reference}/opening/documents/anything", status=403
    )


def test_the_buyer_learns_how_many_bids_were_submitted_only_at_the_opening(
    signed_in,
    tender,
    protocol_kind,  # noqa: F811
):
    before = signed_in("buyer-bruno").get(f"/procurement/tenders/{tender.reference}")
    sealed = before.html.select_one("#bids-submitted").text
    assert sealed == "Bids are sealed: their number is shown after the opening."
    opened_by_clara_and_dan(signed_in, tender)
    after = signed_in("buyer-bruno").get(f"/procurement/tenders/{tender.reference}")
    assert after.html.select_one("#bids-submitted").text == "3"


def test_the_answers_to_the_quality_criteria_are_shown_to_the_committee_not_in_public(
    signed_in,
    dbsession,
    wsgi_app,
    tender,
    protocol_kind,  # noqa: F811
):
    tender = dbsession.get(Tender, tender.id)
    tender.criteria = [
        TenderCriterion(position=0, is_price=True, name="Price", weight=60),
        TenderCriterion(position=2, name="Warranty", weight=15),
        TenderCriterion(position=1, name="Delivery time", weight=25),
    ]
    dbsession.commit()
    _app, page = opened_by_clara_and_dan(signed_in, tender)
    section = page.html.select_one("#answers")
    assert section.h3.text == "Answers to the quality criteria"
    assert [h4.text for h4 in section.select("h4")] == [
        "Northwind Supplies Ltd",
        "Southgate Builders Ltd",
    ]
    first = section.select_one("dl")
    assert [(d.dt.text, d.dd.text) for d in first.select("div")] == [
        ("Delivery time", "Delivery in 90 days"),
        ("Warranty", "no answer"),
    ]
    protocol = dbsession.scalar(select(OpeningProtocol))
    issuer = document_issuer(wsgi_app.registry)
    data = issuer.kinds["opening_protocol"].data(protocol, issuer)
    assert "Delivery in 90 days" not in json.dumps(data)  # the protocol is public
    public = signed_in("citizen-ana").get(f"/tenders/{tender.reference}")
    assert "Delivery in 90 days" not in public.text and public.html.find(id="opened-bids")
