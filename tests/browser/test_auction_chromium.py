"""The auction page in headless Chromium with JavaScript on: a watcher's page shows a bidder's
new price within a few seconds of the step, updated in place (no reload), from the status
JSON the page polls; with JavaScript off the page still shows the state and refreshes itself.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from portal.money import Money
from portal.procurement import auction as auctions
from portal.procurement.models import AuctionBidder
from tests import factories
from tests.browser.conftest import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium package", allow_module_level=True
    )
pytest.importorskip("playwright.sync_api", reason="pip install playwright (the [test] extra)")

from playwright.sync_api import expect  # noqa: E402


def test_a_step_shows_on_a_watchers_page_without_a_reload(
    deployment, open_browser, screenshot, running_auction, dbsession
):
    tender = running_auction
    page = open_browser(javascript=True)
    page.goto(f"{deployment.portal_url}/tenders/{tender.reference}/auction")
    price_of_a = page.locator('tr[data-label="A"] .price')
    expect(price_of_a).to_have_text("€182,400.00")
    page.evaluate("window.stillTheSamePage = true")

    # Bidder A steps in their slot (as the step form would, by the server's real clock)
    bidder = dbsession.scalars(select(AuctionBidder).where(AuctionBidder.label == "A")).one()
    olga = factories.user(dbsession, "rep-olga")
    auctions.place_step(
        dbsession,
        tender,
        bidder,
        olga,
        price=Money(175_000_00, "EUR"),
        now=dt.datetime.now(dt.UTC),
    )
    dbsession.commit()

    expect(price_of_a).to_have_text("€175,000.00", timeout=8_000)
    assert page.evaluate("window.stillTheSamePage") is True  # updated in place
    screenshot(page, "auction-live")


def test_without_javascript_the_page_refreshes_itself(deployment, open_browser, running_auction):
    page = open_browser(javascript=False)
    page.goto(f"{deployment.portal_url}/tenders/{running_auction.reference}/auction")
    expect(page.locator('tr[data-label="B"] .price')).to_have_text("€176,950.00")
    refresh = page.locator("noscript meta[http-equiv=refresh]")
    assert re.fullmatch(r"\d+", refresh.get_attribute("content") or "")
