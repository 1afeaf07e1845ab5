"""A citizen pays two bills in headless Chromium, with JavaScript off: sign-in, the bills page,
the review page, the sandbox's hosted page, the result page they check again, the receipt
and its check; and after a declined card, "Try again" with the same bill."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests import factories
from tests.browser.conftest import CHROMIUM, sign_in

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium package", allow_module_level=True
    )
pytest.importorskip("playwright.sync_api", reason="pip install playwright (the [test] extra)")

from playwright.sync_api import expect  # noqa: E402

from portal.receipts.models import Receipt  # noqa: E402


def enter_card(page, number: str) -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry date").fill("12/39")
    page.get_by_label("Security code (CVC)").fill("123")
    page.get_by_label("Name on card").fill("Ana Novak")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()


@pytest.fixture
def ana_with_bills(deployment, dbsession):
    from portal.identity.models import User

    ana = factories.user(dbsession, "citizen-ana", idp=deployment.idp.entity_id)
    ana.given_name, ana.family_name = "Ana", "Novak"
    bills = [
        factories.bill(dbsession, ana, amount=120_00, description="Property tax 2026 Q1"),
        factories.bill(
            dbsession, ana, amount=35_40, service_code="water", description="Water, October"
        ),
    ]
    dbsession.commit()
    assert dbsession.scalar(select(User).where(User.name_id == "citizen-ana")) is not None
    return bills


def test_pay_two_bills_without_javascript(
    deployment, open_browser, screenshot, ana_with_bills, dbsession
):
    page = open_browser(javascript=False)
    sign_in(page, deployment, "Ana Novak", "/bills")
    for bill in ana_with_bills:
        page.get_by_role("checkbox", name=re.compile(bill.description)).check()
    screenshot(page, "pay-bills")
    page.get_by_role("button", name="Pay selected bills").click()

    review(page, ana_with_bills, "€155.40")
    screenshot(page, "pay-review")
    page.get_by_role("button", name="Pay €155.40").click()

    expect(page.get_by_role("heading", name="Pay by card")).to_be_visible()
    expect(page.get_by_text("155.40 EUR").first).to_be_visible()
    enter_card(page, "4242 4242 4242 4242")

    expect(page).to_have_url(re.compile(rf"^{re.escape(deployment.portal_url)}/payments/\w+$"))
    check_until_paid(page)
    fits_a_phone(page)
    screenshot(page, "pay-result")
    if not page.get_by_role("link", name=re.compile(r"^Receipt R-")).count():
        page.wait_for_timeout(2_000)  # rendered and signed just after the payment committed
        page.reload()
    expect(
        page.get_by_role("link", name=re.compile(r"^Receipt R-\d{4}-\d{6} \(PDF\)$"))
    ).to_be_visible()

    dbsession.expire_all()
    receipt = dbsession.scalars(select(Receipt)).one()
    page.goto(f"{deployment.portal_url}/verify/{receipt.verification_code}")
    expect(page.get_by_role("heading", name="Valid")).to_be_visible()
    expect(page.locator("#document-amount")).to_have_text("€155.40")
    screenshot(page, "pay-verify")

    page.goto(f"{deployment.portal_url}/bills?status=paid")
    for bill in ana_with_bills:
        expect(page.get_by_role("row", name=re.compile(bill.description))).to_contain_text("Paid")


def check_until_paid(page, outcome: str = "Paid") -> None:
    """Until the provider's word arrives the result page says it waits, and the person checks
    again when they choose (the page never reloads itself); within 20 seconds it shows
    ``outcome``."""
    heading = page.get_by_role("heading", name=outcome, exact=True)
    for _attempt in range(20):
        if heading.count():
            break
        expect(page.get_by_role("heading", name="Waiting for the payment provider")).to_be_visible()
        page.wait_for_timeout(1_000)
        page.get_by_role("link", name="Check again").click()
    expect(heading).to_be_visible()


def fits_a_phone(page) -> None:
    """At 375 px wide (a small phone) the page does not scroll sideways."""
    size = page.viewport_size
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, page.url
    page.set_viewport_size(size)


def review(page, bills, total: str) -> None:
    """The review page lists exactly ``bills`` and the total, before anything is charged."""
    expect(page.get_by_role("heading", name=re.compile("Check your payment"))).to_be_visible()
    rows = page.locator(".portal-review tbody tr")
    expect(rows).to_have_count(len(bills))
    for bill in bills:
        expect(page.get_by_role("row", name=re.compile(bill.description))).to_be_visible()
    expect(page.get_by_role("heading", name=f"Total to pay: {total}")).to_be_visible()
    expect(page.locator("#payer")).to_have_text("Ana Novak")
    fits_a_phone(page)


def test_declined_card_then_try_again(deployment, open_browser, screenshot, ana_with_bills):
    water = ana_with_bills[1]
    page = open_browser(javascript=False)
    sign_in(page, deployment, "Ana Novak", "/bills")
    page.get_by_role("row", name=re.compile(water.description)).get_by_role(
        "button", name="Pay"
    ).click()
    review(page, [water], "€35.40")
    page.get_by_role("button", name="Pay €35.40").click()
    enter_card(page, "4000 0000 0000 0002")
    check_until_paid(page, "Not paid")
    expect(page.locator("#status-tag")).to_have_text("Failed")
    expect(page.get_by_role("link", name="Back to your bills")).to_be_visible()
    fits_a_phone(page)
    screenshot(page, "pay-declined")
    declined_url = page.url

    page.get_by_role("button", name="Try again").click()
    review(page, [water], "€35.40")
    page.get_by_role("button", name="Pay €35.40").click()
    enter_card(page, "4242 4242 4242 4242")
    check_until_paid(page)
    assert page.url != declined_url  # a new payment; the declined one stays as it was
    page.goto(f"{deployment.portal_url}/bills?status=paid")
    expect(page.get_by_role("row", name=re.compile(water.description))).to_contain_text("Paid")
