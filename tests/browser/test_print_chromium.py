"""A citizen's lists printed from Chromium (its print to PDF, as the print dialog makes it):
the bills, payments and receipts with their amounts and references as tables, without the
navigation, filters, buttons and checkboxes that only work on a screen. Each PDF's pages are
kept as PNG pictures in ``var/print/`` for people to look at (poppler's pdftoppm)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from sqlalchemy import select

from tests.browser.conftest import CHROMIUM, ROOT, sign_in

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium package", allow_module_level=True
    )
pytest.importorskip("playwright.sync_api", reason="pip install playwright (the [test] extra)")
if shutil.which("pdftotext") is None:
    pytest.skip("pdftotext is missing: install Debian's poppler-utils", allow_module_level=True)

from portal.billing import with_status  # noqa: E402
from portal.billing.models import Bill, Payment  # noqa: E402
from portal.billing.reference import printed  # noqa: E402
from portal.identity.models import User  # noqa: E402
from portal.receipts.models import Receipt  # noqa: E402

PRINTS = ROOT / "var" / "print"
#: what only works on a screen, and must not be on paper
SCREEN_ONLY = (
    "Skip to main content",
    "Here’s how you know",
    "Sign out",
    "Your bills ",  # the navigation's first item, before "Payments"
    "Filter",
    "Pay selected bills",
    "Pay by bank transfer",
    "Download PDF",
    "Download as CSV",
    "Select",
    "Accessibility statement",
)


def printed_text(page, name: str) -> str:
    """Print the page to PDF as Chromium does, keep its pages as PNGs, return its text."""
    PRINTS.mkdir(parents=True, exist_ok=True)
    pdf = PRINTS / f"{name}.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=False)
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", str(pdf), str(PRINTS / name)], check=True, timeout=60
        )
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_the_citizens_lists_print_as_lists(deployment, open_browser, demo_world, dbsession):
    ana = dbsession.scalar(select(User).where(User.name_id == "citizen-ana"))
    views = with_status(
        dbsession, list(dbsession.scalars(select(Bill).where(Bill.payer_user_id == ana.id)))
    )
    page = open_browser(javascript=False)
    sign_in(page, deployment, "Ana Novak", "/bills?status=all")

    texts = {"bills": printed_text(page, "bills")}
    page.goto(f"{deployment.portal_url}/payments")
    texts["payments"] = printed_text(page, "payments")
    page.goto(f"{deployment.portal_url}/receipts")
    texts["receipts"] = printed_text(page, "receipts")

    for name, text in texts.items():
        assert "City of Example" in text, name
        assert [shown for shown in SCREEN_ONLY if shown in text] == [], name
    assert "Your bills" in texts["bills"] and views
    for view in views:
        assert printed(view.bill.reference) in texts["bills"], view.bill.number
        shown = view.outstanding if view.payable else view.bill.total
        assert shown.format("en") in texts["bills"], view.bill.number
    payments = dbsession.scalars(select(Payment).where(Payment.payer_user_id == ana.id)).all()
    assert payments
    for payment in payments:
        assert payment.amount.format("en") in texts["payments"]
        assert payment.public_id in texts["payments"].replace("\n", "").replace(" ", "")
    receipts = dbsession.scalars(select(Receipt).where(Receipt.owner_user_id == ana.id)).all()
    assert receipts
    for receipt in receipts:
        assert receipt.number in texts["receipts"]
        assert receipt.amount.format("en") in texts["receipts"]
