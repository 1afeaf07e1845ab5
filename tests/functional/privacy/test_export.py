"""A person downloads everything the portal holds about them, and only that."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import select

from portal.billing.models import Payment, Refund
from portal.identity.models import Organisation, User
from portal.procurement.models import Bid, BidVersion
from tests import factories


def test_the_download_holds_my_profile_bills_payments_receipts_and_applications(
    paid, applications, payer, dbsession
):
    download = payer.app.get("/account/data.json", status=200)
    assert download.headers["Content-Disposition"] == 'attachment; filename="your-data.json"'
    assert download.headers["Cache-Control"] == "no-store"
    data = json.loads(download.text)
    assert data["person"]["family_name"] == "Novak"
    assert data["person"]["national_identifier"] == "19800101-1234"
    assert sorted(bill["description"] for bill in data["bills"]) == [
        "Property tax 2026 Q1",
        "Water, October",
    ]
    assert {bill["status"] for bill in data["bills"]} == {"paid"}
    (payment,) = data["payments"]
    assert payment["reference"] == paid.public_id
    assert payment["amount"] == {"minor_units": 155_40, "currency": "EUR"}
    (receipt,) = data["receipts"]
    assert receipt["download"] == f"/receipts/{receipt['number']}.pdf"
    assert {app["status"] for app in data["applications"]} == {"draft", "approved"}
    approved = next(app for app in data["applications"] if app["status"] == "approved")
    assert approved["answers"]["plate"] == "LJ 999-ZZ"
    assert data["sign_in"]["sessions"] and data["sign_in"]["last_sign_in"]


def test_the_readable_page_says_the_same(paid, applications, payer):
    page = payer.app.get("/account").click(href="/account/data$")
    assert "Novak" in page.text and "19800101-1234" in page.text
    assert "€155.40" in page.text and "LJ 999-ZZ" in page.text
    assert page.html.find(id="download-json")["href"] == "/account/data.json"


def test_another_persons_data_never_appears(paid, payer, dbsession, browser, devidp):
    ben_app = browser(devidp, "citizen-ben")
    ben = dbsession.scalar(select(User).where(User.name_id == "citizen-ben"))
    factories.bill(dbsession, ben, amount=77_00, description="Ben's dog licence")
    dbsession.commit()
    mine = payer.app.get("/account/data.json").text
    assert "Ben" not in mine and "Kovač" not in mine and "19750505-5678" not in mine
    assert "dog licence" not in mine
    bens = json.loads(ben_app.get("/account/data.json").text)
    assert [bill["description"] for bill in bens["bills"]] == ["Ben's dog licence"]
    assert bens["payments"] == [] and bens["receipts"] == []
    assert "Novak" not in json.dumps(bens, ensure_ascii=False)


def test_organisations_are_named_and_a_sealed_bid_stays_sealed(
    dbsession, browser, devidp, departments
):
    olga_app = browser(devidp, "rep-olga")
    olga = dbsession.scalar(select(User).where(User.name_id == "rep-olga"))
    northwind = dbsession.scalar(
        select(Organisation).where(Organisation.representatives.any(User.id == olga.id))
    )
    now = dt.datetime.now(dt.UTC)
    tender = factories.tender(dbsession, now=now)
    sealed = b"price 182400.00 and the method statement"
    bid = Bid(
        tender=tender,
        organisation=northwind,
        status="submitted",
        created_by=olga,
        created_at=now,
        updated_at=now,
        draft_sealed=b"draft price 199000.00",
    )
    bid.versions = [
        BidVersion(
            number=1,
            sealed=sealed,
            sha256=hashlib.sha256(sealed).hexdigest(),
            submitted_at=now,
            submitted_by=olga,
            tender_version=1,
            opened_price_minor=182_400_00,
        )
    ]
    dbsession.add(bid)
    dbsession.commit()

    text = olga_app.get("/account/data.json").text
    data = json.loads(text)
    assert data["organisations"] == [
        {"name": northwind.name, "registration_number": northwind.registration_number}
    ]
    (exported,) = data["bids"]
    assert exported["tender"] == tender.reference
    assert exported["submissions"][0]["sealed_sha256"] == hashlib.sha256(sealed).hexdigest()
    for secret in ("182400", "18240000", "199000", "method statement"):
        assert secret not in text
    page = olga_app.get("/account/data")
    assert northwind.name in page.text and "182400" not in page.text


def test_my_cases_with_their_public_notes_only(case, payer):
    data = json.loads(payer.app.get("/account/data.json").text)
    (exported,) = data["cases"]
    assert exported["title"] == "Vehicle registration" and exported["outcome"] == "approved"
    assert [note["text"] for note in exported["notes"]] == ["We received your documents."]
    page = payer.app.get("/account/data")
    assert "We received your documents." in page.text and "phoned twice" not in page.text


def test_refunds_a_second_clerk_has_not_approved_are_left_out(paid, payer, dbsession):
    """Their reasons are the clerks' four-eyes notes, which the payer's pages never show."""
    payment = dbsession.get(Payment, paid.id)
    for status, reason in [
        ("awaiting_approval", "Clerk thinks the payer is lying"),
        ("rejected", "Second clerk: no, the payer already had one"),
        ("succeeded", "Paid twice"),
    ]:
        dbsession.add(
            Refund(
                payment=payment,
                amount_minor=35_40,
                currency="EUR",
                reason=reason,
                status=status,
            )
        )
    dbsession.commit()
    download = payer.app.get("/account/data.json").text
    assert "lying" not in download and "already had one" not in download
    (refund,) = json.loads(download)["refunds"]
    assert (refund["status"], refund["reason"]) == ("succeeded", "Paid twice")
    page = payer.app.get("/account/data").text
    assert "lying" not in page and "already had one" not in page
