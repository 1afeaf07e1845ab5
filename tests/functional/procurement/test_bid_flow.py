"""A bidder's whole way: start a bid, see the fee and security billed, pay them through the
portal's pay flow and the sandbox, submit sealed, get the receipt; the ledger holds the fee
as the procurement department's revenue and the security as a liability; withdrawing gives
the security back through the provider."""

from __future__ import annotations

import re

import pytest
import webtest
from sqlalchemy import func, select

from portal.billing import ledger, with_status
from portal.billing.models import Refund
from portal.procurement import bid_content, state
from portal.procurement.committee_keys import unlock_committee_key
from portal.procurement.models import BidDraftDocument, BidReceipt, BidVersion, CommitteeKey
from portal.procurement.sealing import EncryptedShare, Opening, RecordedBid, unlock_share
from tests.conftest import sign_in
from tests.functional.procurement.bidding import (
    NORTHWIND,
    Bidder,
    bid_of,
    needs_bid_receipts,
    open_tender,
    pdf,
)

FEE_REVENUE = "revenue:tender-bid-fee"
HELD = "deposits:tender-bid-security"


def balance(dbsession, account: str) -> int:
    dbsession.expire_all()
    return ledger.account_balance(dbsession, account).get("EUR", 0)


@pytest.fixture
def tender(dbsession, clock):
    return open_tender(dbsession, clock)


@pytest.fixture
def browser(wsgi_app, devidp):
    def make(persona):
        app = webtest.TestApp(
            wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
        )
        assert sign_in(app, devidp, persona).status_int == 303
        return app

    return make


@pytest.fixture
def olga(signed_in, sandbox, dbsession, tender):
    return Bidder(signed_in("rep-olga"), sandbox, dbsession, tender.reference)


def test_starting_a_bid_bills_the_fee_and_the_security_to_the_organisation(olga, dbsession, tender):
    assert "Start a bid" in olga.page()
    olga.start()
    bid = bid_of(dbsession, tender, NORTHWIND)
    assert bid.status == "draft" and bid.created_by.name_id == "rep-olga"
    assert bid.fee_bill.number == f"{tender.reference}-FEE-{bid.id}"
    assert bid.deposit.bill.number == f"{tender.reference}-DEP-{bid.id}"
    for bill, service, amount in (
        (bid.fee_bill, "tender-bid-fee", 50_00),
        (bid.deposit.bill, "tender-bid-security", 1_000_00),
    ):
        assert bill.payer_organisation.registration_number == NORTHWIND
        assert bill.service.code == service and bill.service.department.code == "procurement"
        assert bill.total_minor == amount and bill.reference.startswith("RF")
    assert balance(dbsession, FEE_REVENUE) == -50_00
    assert balance(dbsession, HELD) == -1_000_00
    # starting again (a colleague, a second tab) bills nothing more
    olga.page().forms["start-form" if "start-form" in olga.page().forms else "draft-form"]
    assert balance(dbsession, FEE_REVENUE) == -50_00
    # the bills are on the organisation's bills page too, to pay like any other
    assert bid.fee_bill.public_id in olga.app.get("/bills")


def test_the_bid_is_paid_submitted_sealed_receipted_and_withdrawn(
    olga, dbsession, tender, sandbox, wsgi_app, browser
):
    needs_bid_receipts(wsgi_app)
    olga.start()
    olga.save("125000.50", "Within 30 days")
    olga.upload("offer.pdf", pdf("Our offer in detail"))
    page = olga.page()
    assert page.forms["draft-form"]["price"].value == "125000.50"
    assert "offer.pdf" in page

    refused = olga.submit(status=409)
    assert "Pay the bid fee and the bid security first." in refused
    assert bid_of(dbsession, tender, NORTHWIND).versions == []

    olga.pay()
    bid = bid_of(dbsession, tender, NORTHWIND)
    assert [view.status for view in with_status(dbsession, [bid.fee_bill, bid.deposit.bill])] == [
        "paid",
        "paid",
    ]
    assert balance(dbsession, FEE_REVENUE) == -50_00
    assert balance(dbsession, HELD) == -1_000_00
    assert balance(dbsession, "clearing:sandbox") == 1_050_00
    assert balance(dbsession, f"receivable:organisation:{bid.organisation_id}") == 0

    olga.submit()
    bid = bid_of(dbsession, tender, NORTHWIND)
    (version,) = bid.versions
    assert bid.status == "submitted" and version.status == "submitted" and version.number == 1
    assert version.submitted_at.microsecond == 0
    assert version.tender_version == tender.version == 1
    assert version.submitted_by.name_id == "rep-olga"
    assert re.fullmatch(r"[0-9a-f]{64}", version.sha256)
    # nothing of the offer is left in clear
    assert bid.draft_sealed is None
    assert dbsession.scalar(select(func.count()).select_from(BidDraftDocument)) == 0
    assert b"125000" not in version.sealed and b"30 days" not in version.sealed
    receipt = dbsession.scalars(
        select(BidReceipt).where(BidReceipt.bid_version_id == version.id)
    ).one()
    assert re.fullmatch(r"BR-\d{4}-\d{6}", receipt.number)
    assert receipt.owner_user_id == version.submitted_by_id
    page = olga.page()
    assert receipt.number in page and version.sha256 in page
    assert "Submit the replacement" in page and "not even you" in page
    assert receipt.number in olga.app.get("/bids")
    dbsession.refresh(receipt)
    assert receipt.pdf is not None  # rendered once the submission committed
    download = olga.page().click(linkid="receipt-link")
    assert download.content_type == "application/pdf" and download.body == receipt.pdf
    # nobody else's: another organisation's representative finds no such receipt
    peter = browser("rep-peter")
    peter.get(f"/tenders/{tender.reference}/bid/receipts/{receipt.number}", status=404)
    assert "My bids" in olga.app.get("/account")

    # withdrawing before the deadline releases the security through the provider; the fee stays
    olga.page().forms["withdraw-form"].submit(status=303)
    bid = bid_of(dbsession, tender, NORTHWIND)
    assert bid.status == "withdrawn" and bid.withdrawn_at is not None
    assert [v.status for v in bid.versions] == ["withdrawn"]
    assert bid.deposit.status == "released"
    refund = dbsession.scalars(select(Refund)).one()
    assert refund.amount_minor == 1_000_00 and bid.deposit.refund_id == refund.id
    assert balance(dbsession, HELD) == 0
    assert balance(dbsession, FEE_REVENUE) == -50_00
    assert "Withdrawn" in olga.app.get("/bids")
    # and a withdrawn bid takes nothing more
    olga.app.post(
        f"/tenders/{tender.reference}/bid/confirm",
        {"csrf_token": csrf(olga)},
        headers={"Referer": "https://localhost/"},
        status=409,
    )


def test_a_replacement_is_a_new_sealed_version_and_the_old_one_is_kept_replaced(
    olga, dbsession, tender, wsgi_app
):
    needs_bid_receipts(wsgi_app)
    olga.prepare("125000.50")
    olga.submit()
    assert "Submit the replacement" in olga.page()
    refused = olga.submit(status=409)  # the draft was emptied by sealing
    assert "Enter the price and save the draft." in refused
    olga.save("119000")
    olga.submit()
    bid = bid_of(dbsession, tender, NORTHWIND)
    assert [(v.number, v.status) for v in bid.versions] == [(1, "replaced"), (2, "submitted")]
    assert dbsession.scalar(select(func.count()).select_from(BidReceipt)) == 2
    assert bid.versions[0].sha256 != bid.versions[1].sha256


def test_confirming_after_an_amendment_clears_the_flag(olga, dbsession, tender, wsgi_app):
    needs_bid_receipts(wsgi_app)
    olga.prepare()
    olga.submit()
    bid = bid_of(dbsession, tender, NORTHWIND)
    # what the buyer's amendment does to submitted bids
    bid.needs_confirmation = True
    bid.tender.version = 2
    dbsession.commit()
    assert "Needs your confirmation" in olga.app.get("/bids")
    olga.page().forms["confirm-form"].submit(status=303)
    bid = bid_of(dbsession, tender, NORTHWIND)
    (version,) = bid.versions
    assert not bid.needs_confirmation
    assert version.tender_version == 2 and version.confirmed_at is not None
    assert "Needs your confirmation" not in olga.app.get("/bids")


def test_a_tender_without_fee_or_security_bills_nothing(
    signed_in, sandbox, dbsession, clock, wsgi_app
):
    needs_bid_receipts(wsgi_app)
    tender = open_tender(dbsession, clock, fee=0, deposit=0, quality=False)
    olga = Bidder(signed_in("rep-olga"), sandbox, dbsession, tender.reference)
    olga.start()
    bid = bid_of(dbsession, tender, NORTHWIND)
    assert bid.fee_bill is None and bid.deposit is None
    assert "asks no bid fee" in olga.page()
    olga.save("1000")
    olga.submit()
    assert bid_of(dbsession, tender, NORTHWIND).status == "submitted"


def test_a_sealed_bid_opens_to_what_was_entered(olga, dbsession, tender, wsgi_app):
    """The sealed content is the draft as it was, for the committee (whose key the test
    rebuilds the way the opening does)."""
    needs_bid_receipts(wsgi_app)
    olga.prepare("125000.50", document=("offer.pdf", pdf("Opening check")))
    olga.submit()
    bid = bid_of(dbsession, tender, NORTHWIND)
    (version,) = bid.versions
    assert state.accepts_bids(tender, tender.bids_until) is False
    content = opened(dbsession, tender, bid, version)
    assert content.price.minor == 125000_50 and content.answers == {"2": "Within 30 days"}
    assert [(d.filename, d.content) for d in content.documents] == [
        ("offer.pdf", pdf("Opening check"))
    ]


def opened(dbsession, tender, bid, version) -> bid_content.BidContent:
    """``version`` opened with the shares of the first m committee members."""
    dbsession.refresh(tender)
    opening = Opening(tender.reference, tender.public_key, tender.committee_threshold)
    for seat in tender.committee[: tender.committee_threshold]:
        key = dbsession.scalars(
            select(CommitteeKey).where(CommitteeKey.user_id == seat.member_id)
        ).one()
        private = unlock_committee_key(key.sealed_private_key, "correct horse battery staple")
        share = EncryptedShare(str(seat.member_id), seat.encrypted_share)
        opening.add(unlock_share(share, tender.reference, private))
    recorded = RecordedBid(bid.public_id, version.number, version.sealed, version.sha256)
    (result,) = opening.open([recorded])
    assert not result.tampered
    return bid_content.decode(result.content)


def csrf(bidder) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', bidder.page().text).group(1)


def test_sealed_versions_are_stored_as_version_rows_only(olga, dbsession, tender, wsgi_app):
    needs_bid_receipts(wsgi_app)
    olga.prepare("777")
    olga.submit()
    assert dbsession.scalar(select(func.count()).select_from(BidVersion)) == 1
