"""Arranging sealed bids and unlocking shares for the opening tests.

The bids are sealed here the way submission seals them (``bid_content.encode`` then
``sealing.seal_bid`` with the tender's public key and the bid's ids, and the seal's MAC under
the test server's HMAC key), since the bidders' pages live on another branch.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.documents.kinds import document_issuer
from portal.identity.models import Organisation, User
from portal.identity.pii import PersonalDataVault
from portal.money import Money
from portal.procurement import bid_content, sealing
from portal.procurement.models import Bid, BidVersion, Tender
from portal.procurement.seal_macs import seal_mac
from tests import factories
from tests.conftest import FERNET_KEY, HMAC_KEY

PASSPHRASE = "correct horse battery staple"
#: the vault of the app the tests run (its keys are the test settings')
VAULT = PersonalDataVault(HMAC_KEY, FERNET_KEY)
PDF = b"%PDF-1.7\n% technical proposal\n" + b"1 0 obj << >> endobj\n" * 40 + b"%%EOF\n"


def sealed_bid(
    dbsession,
    tender: Tender,
    organisation: str,
    price_minor: int,
    *,
    now: dt.datetime,
    documents: tuple[bid_content.BidDocument, ...] = (),
    number: int = 1,
) -> BidVersion:
    """A submitted bid of ``organisation`` on ``tender``, sealed for real."""
    registration = f"REG-{organisation[:20]}"
    found = dbsession.scalar(
        select(Organisation).where(Organisation.registration_number == registration)
    )
    if found is None:
        found = Organisation(registration_number=registration, name=organisation)
    bidder = factories.user(dbsession, "rep-olga")
    bid = Bid(
        tender=tender,
        organisation=found,
        status="submitted",
        created_by=bidder,
        created_at=now,
        updated_at=now,
    )
    dbsession.add(bid)
    dbsession.flush()
    return sealed_version(dbsession, bid, price_minor, now=now, documents=documents, number=number)


def sealed_version(
    dbsession,
    bid: Bid,
    price_minor: int,
    *,
    now: dt.datetime,
    documents: tuple[bid_content.BidDocument, ...] = (),
    number: int = 1,
) -> BidVersion:
    """Version ``number`` of ``bid``, sealed for real and submitted ``now``."""
    tender = bid.tender
    content = bid_content.BidContent(
        price=Money(price_minor, tender.currency),
        answers={"1": "Delivery in 90 days"},
        documents=documents,
    )
    sealed = sealing.seal_bid(
        tender.public_key, tender.reference, bid.public_id, number, bid_content.encode(content)
    )
    version = BidVersion(
        bid=bid,
        number=number,
        status="submitted",
        sealed=sealed.blob,
        sha256=sealed.sha256,
        seal_mac=seal_mac(VAULT, tender.reference, bid.public_id, number, sealed.sha256),
        submitted_at=now,
        submitted_by=bid.created_by,
        tender_version=tender.version,
    )
    dbsession.add(version)
    dbsession.flush()
    return version


def member(dbsession, name_id: str) -> User:
    return dbsession.scalar(select(User).where(User.name_id == name_id))


def unlock_on_page(app, reference: str, passphrase: str = PASSPHRASE, status=303):
    page = app.get(f"/procurement/tenders/{reference}/opening")
    form = page.forms["unlock-form"]
    form["passphrase"] = passphrase
    return form.submit(status=status)


@pytest.fixture
def protocol_kind(wsgi_app):
    """The opening protocol is a kind of document written on the **kinds** branch: a test that
    completes an opening through the pages (which issues the protocol) needs it registered."""
    if "opening_protocol" not in document_issuer(wsgi_app.registry).kinds:
        pytest.skip("the OpeningProtocol document kind is not registered on this branch")
