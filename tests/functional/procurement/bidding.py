"""What the bid tests share: a tender open for bids, a representative's browser on the bid
page, paying the bid's bills through the sandbox as the pay flow does, a document to upload."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from portal.documents.kinds import document_issuer
from portal.identity.models import Organisation
from portal.procurement.models import BEST_VALUE, Bid, TenderCriterion
from tests import factories
from tests.functional.billing.conftest import Payer, deliver, notifications_for
from tests.sandbox.conftest import SUCCESS

#: how long before the real time the test tenders were created: their deadline is minutes
#: away, so a test reaches it without outliving the sign-in session
MINUTES_LEFT = 5


def needs_bid_receipts(wsgi_app) -> None:
    """Submitting issues a BidReceipt, whose document kind comes from the **kinds** branch;
    until it is merged a submission cannot be recorded, and the tests that submit skip."""
    if "bid_receipt" not in document_issuer(wsgi_app.registry).kinds:
        pytest.skip("the BidReceipt document kind is not registered (kinds branch)")


def open_tender(dbsession, clock, *, fee=50_00, deposit=1_000_00, quality=True):
    """A published tender whose deadline is MINUTES_LEFT minutes from the clock's now, with a
    quality criterion beside the price when ``quality``."""
    created = clock.now() - dt.timedelta(days=10) + dt.timedelta(minutes=MINUTES_LEFT)
    tender = factories.tender(dbsession, now=created, bid_fee=fee, deposit=deposit)
    if quality:
        tender.award_criterion = BEST_VALUE
        tender.criteria = [
            TenderCriterion(position=1, is_price=True, name="Price", weight=60),
            TenderCriterion(position=2, is_price=False, name="Delivery time", weight=40),
        ]
    dbsession.commit()
    return tender


def pdf(text: str) -> bytes:
    """A small PDF holding ``text`` (libmagic reads it as application/pdf)."""
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        + f"% {text}\n".encode()
        + b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


class Bidder:
    """A signed-in representative's browser on one tender's bid page."""

    def __init__(self, app, sandbox, dbsession, reference: str):
        self.app = app
        self.payer = Payer(app, sandbox, dbsession)
        self.sandbox = sandbox
        self.dbsession = dbsession
        self.url = f"/tenders/{reference}/bid"

    def page(self, status=200):
        return self.app.get(self.url, status=status)

    def start(self):
        return self.page().forms["start-form"].submit(status=303)

    def save(self, price: str, answer: str = "Within 30 days", status=303):
        form = self.page().forms["draft-form"]
        form["price"] = price
        if "answer-2" in form.fields:
            form["answer-2"] = answer
        return form.submit(status=status)

    def upload(self, filename: str, content: bytes, status=303):
        form = self.page().forms["document-form"]
        form["document"] = (filename, content)
        return form.submit(status=status)

    def pay(self):
        """Pay the bid's fee and security through the portal's pay flow and the sandbox."""
        response = self.page().forms["pay-form"].submit(status=303)
        hosted = self.payer.checkout(response)
        assert self.payer.enter_card(hosted, SUCCESS).status_code == 303
        payment_id = urlsplit(response.location).path.split("/")[2]
        (notification,) = notifications_for(self.sandbox, payment_id)
        assert deliver(self.app, notification).json == {"status": "processed"}

    def submit(self, status=303):
        return self.page().forms["submit-form"].submit(status=status)

    def prepare(self, price="125000.50", document=None):
        """Start, fill in, attach and pay: ready to submit."""
        self.start()
        self.save(price)
        if document is not None:
            self.upload(*document)
        if "pay-form" in self.page().forms:
            self.pay()


def bid_of(dbsession, tender, registration_number: str) -> Bid:
    dbsession.expire_all()
    organisation = dbsession.scalars(
        select(Organisation).where(Organisation.registration_number == registration_number)
    ).one()
    return dbsession.scalars(
        select(Bid).where(Bid.tender_id == tender.id, Bid.organisation_id == organisation.id)
    ).one()


NORTHWIND = "NW-100200"
SOUTHGATE = "SG-300400"
