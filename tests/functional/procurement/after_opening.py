"""A tender the committee has just opened, reached the way people reach it: three
representatives sign in, prepare their bids, pay the fee and the security through the sandbox
and submit; the clock passes the opening time and two committee members unlock their shares.

What the tests of the procurement after the opening (auction, evaluation, award, complaints,
contract, deposits, OCDS, pages) start from. Time moves only with the test ``clock``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import webtest
from sqlalchemy import select

from portal.documents.kinds import document_issuer
from portal.identity.models import User
from portal.procurement import opening
from portal.procurement.jobs import advance_tenders
from portal.procurement.models import BEST_VALUE, Bid, Tender, TenderCriterion
from portal.tasks import task_dbsession
from tests import factories
from tests.conftest import sign_in
from tests.functional.procurement.bidding import MINUTES_LEFT, Bidder, needs_bid_receipts

PASSPHRASE = "correct horse battery staple"
#: the demo representatives and the organisations they act for
REPRESENTATIVES = {
    "rep-olga": "NW-100200",
    "rep-peter": "SG-300400",
    "rep-quinn": "EB-500600",
}


def browser(wsgi_app, devidp, persona: str) -> webtest.TestApp:
    """A browser of its own, signed in as ``persona``."""
    app = webtest.TestApp(
        wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    )
    response = sign_in(app, devidp, persona)
    assert response.status_int == 303, response.text
    return app


@dataclass
class Opened:
    """The opened tender, and each representative's browser on their bid."""

    tender: Tender
    bidders: dict[str, Bidder] = field(default_factory=dict)

    def bid(self, dbsession, persona: str) -> Bid:
        dbsession.expire_all()
        return dbsession.scalars(
            select(Bid)
            .join(Bid.organisation)
            .where(
                Bid.tender_id == self.tender.id,
                Bid.organisation.has(registration_number=REPRESENTATIVES[persona]),
            )
        ).one()


def opened_tender(
    wsgi_app,
    devidp,
    sandbox,
    dbsession,
    clock,
    *,
    prices: dict[str, str] | None = None,
    quality: bool = True,
    auction: bool = False,
    step_minor: int | None = None,
    step_basis_points: int | None = None,
    fee: int = 50_00,
    deposit: int = 1_000_00,
) -> Opened:
    """A tender opened by its committee with a bid of each representative in ``prices``
    (persona -> price as typed, e.g. "182400.00"), their fee and security paid; best
    price-quality (price 60, "Delivery time" 40) when ``quality``, else lowest price."""
    needs_bid_receipts(wsgi_app)
    prices = prices or {"rep-olga": "182400.00", "rep-peter": "176950.00", "rep-quinn": "190000.00"}
    created = clock.now() - dt.timedelta(days=10) + dt.timedelta(minutes=MINUTES_LEFT)
    tender = factories.tender(dbsession, now=created, bid_fee=fee, deposit=deposit)
    if quality:
        tender.award_criterion = BEST_VALUE
        tender.criteria = [
            TenderCriterion(position=1, is_price=True, name="Price", weight=60),
            TenderCriterion(position=2, is_price=False, name="Delivery time", weight=40),
        ]
    tender.auction_enabled = auction
    tender.auction_step_minor = step_minor
    tender.auction_step_basis_points = step_basis_points
    dbsession.commit()
    made = Opened(tender)
    for persona, price in prices.items():
        bidder = Bidder(browser(wsgi_app, devidp, persona), sandbox, dbsession, tender.reference)
        bidder.prepare(price)
        bidder.submit()
        made.bidders[persona] = bidder
    clock.set(tender.opening_at + dt.timedelta(minutes=1))
    advance_tenders(wsgi_app.registry)
    open_by_committee(wsgi_app, tender.id, clock.now())
    dbsession.expire_all()
    return made


def open_by_committee(wsgi_app, tender_id: int, now: dt.datetime) -> None:
    """Two committee members unlock their shares, each in their own transaction: the
    second opens the bids and, as the opening page does, issues the opening protocol
    (rendered after the commit)."""
    vault = wsgi_app.registry["pii_vault"]
    for name_id in ("clerk-clara", "clerk-dan"):
        with task_dbsession(wsgi_app.registry) as session:
            tender = session.get_one(Tender, tender_id)
            member = session.scalars(select(User).where(User.name_id == name_id)).one()
            if opening.unlock(session, tender, member, PASSPHRASE, vault, now).opened:
                issuer = document_issuer(wsgi_app.registry)
                opening.issue_protocol(issuer, session, tender, member, now)
