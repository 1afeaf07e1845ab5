"""A draft is the organisation's alone: other organisations' representatives, citizens and
anonymous visitors can neither see nor change it; hostile input is refused with a 4xx and
changes nothing."""

from __future__ import annotations

import re

import pytest
import webtest
from sqlalchemy import func, select

from portal.procurement.models import Bid, BidDraftDocument
from tests.conftest import sign_in
from tests.functional.procurement.bidding import NORTHWIND, Bidder, bid_of, open_tender, pdf

REFERER = {"Referer": "https://localhost/"}


@pytest.fixture
def tender(dbsession, clock):
    return open_tender(dbsession, clock)


@pytest.fixture
def olga(signed_in, sandbox, dbsession, tender):
    olga = Bidder(signed_in("rep-olga"), sandbox, dbsession, tender.reference)
    olga.start()
    olga.save("4242.42", "Our secret method")
    olga.upload("method.pdf", pdf("Our secret method in detail"))
    return olga


@pytest.fixture
def browser(wsgi_app, devidp):
    def make(persona=None):
        app = webtest.TestApp(
            wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
        )
        if persona:
            assert sign_in(app, devidp, persona).status_int == 303
        return app

    return make


def token(app) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', app.get("/").text).group(1)


def snapshot(dbsession, tender):
    """The bid as stored; the draft's ciphertexts change on every save (a fresh IV)."""
    bid = bid_of(dbsession, tender, NORTHWIND)
    return (
        bid.status,
        bid.draft_sealed,
        [(d.public_id, d.filename_sealed, d.content) for d in bid.draft_documents],
        len(bid.versions),
    )


def test_another_organisations_representative_cannot_see_or_change_the_draft(
    olga, browser, dbsession, tender
):
    before = snapshot(dbsession, tender)
    northwind = bid_of(dbsession, tender, NORTHWIND).organisation_id
    document = bid_of(dbsession, tender, NORTHWIND).draft_documents[0].public_id
    peter = browser("rep-peter")
    base = f"/tenders/{tender.reference}/bid"
    own = peter.get(base)
    assert "4242" not in own and "secret" not in own and "start-form" in own.forms
    peter.get(base, {"organisation": northwind}, status=404)
    for path, fields in (
        ("/draft", {"price": "1", "answer-2": "mine now"}),
        ("/submit", {}),
        ("/withdraw", {}),
        ("/confirm", {}),
        (f"/documents/{document}/remove", {}),
    ):
        peter.post(
            base + path,
            {**fields, "organisation": northwind, "csrf_token": token(peter)},
            headers=REFERER,
            status=404,
        )
    # his own bid, once started, does not reach Olga's documents either
    Bidder(peter, None, dbsession, tender.reference).start()
    peter.post(
        f"{base}/documents/{document}/remove",
        {"csrf_token": token(peter)},
        headers=REFERER,
        status=409,
    )
    assert "4242" not in peter.get("/bids") and "Southgate" in peter.get("/bids")
    assert snapshot(dbsession, tender) == before


def test_citizens_and_anonymous_visitors_cannot_reach_bids(olga, browser, dbsession, tender):
    before = snapshot(dbsession, tender)
    base = f"/tenders/{tender.reference}/bid"
    anonymous = browser()
    assert "/saml/login" in anonymous.get(base, status=303).location
    assert "/saml/login" in anonymous.get("/bids", status=303).location
    anonymous.post(base + "/draft", {"price": "1"}, headers=REFERER, status=(400, 403))
    ana = browser("citizen-ana")
    ana.get(base, status=403)
    ana.get("/bids", status=403)
    ana.post(
        base + "/draft",
        {"price": "1", "csrf_token": token(ana)},
        headers=REFERER,
        status=403,
    )
    assert "My bids" not in ana.get("/account")
    assert snapshot(dbsession, tender) == before


@pytest.mark.parametrize(
    "price",
    [
        "-5",
        "0",
        "0.00",
        "abc",
        "1e400",
        "NaN",
        "Infinity",
        "9,876,543.2.1",
        "1,23,456",
        "1.234",
        "1" * 30,
    ],
)
def test_hostile_prices_are_refused_and_change_nothing(olga, dbsession, tender, price):
    before = snapshot(dbsession, tender)
    refused = olga.save(price, "changed", status=422)
    assert "usa-error-message" in refused and 'id="price-error"' in refused
    assert refused.forms["draft-form"]["price"].value == price
    assert snapshot(dbsession, tender) == before


def test_bad_uploads_and_forged_forms_are_refused_and_change_nothing(olga, dbsession, tender):
    before = snapshot(dbsession, tender)
    base = f"/tenders/{tender.reference}/bid"
    form = olga.page().forms["document-form"]
    assert "Choose a file to upload." in form.submit(status=422)
    assert "not a document of a type we accept" in olga.upload("evil.pdf", b"#!/bin/sh\n", 415)
    assert "The file is empty." in olga.upload("empty.pdf", b"", 422)
    # a wrong or missing CSRF token
    olga.app.post(base + "/draft", {"price": "1", "csrf_token": "forged"}, status=400)
    olga.app.post(base + "/submit", {}, headers=REFERER, status=400)
    # a form that is not this page's: an unknown organisation, an unknown document
    olga.app.post(
        base + "/draft",
        {"price": "1", "organisation": "999999", "csrf_token": token(olga.app)},
        headers=REFERER,
        status=404,
    )
    olga.app.post(
        base + "/documents/" + "0" * 32 + "/remove",
        {"csrf_token": token(olga.app)},
        headers=REFERER,
        status=409,
    )
    olga.app.get("/tenders/T-2027-999999/bid", status=404)
    olga.app.get("/tenders/nonsense/bid", status=404)
    assert snapshot(dbsession, tender) == before
    assert dbsession.scalar(select(func.count()).select_from(BidDraftDocument)) == 1
    assert dbsession.scalar(select(func.count()).select_from(Bid)) == 1
