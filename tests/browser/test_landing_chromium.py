"""Where a real browser lands after signing in through the development IdP, and a date typed
into a form's three boxes."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright")

from playwright.sync_api import expect  # noqa: E402

SUBSTANTIAL = re.compile(r"^Substantial")


def sign_in_at_idp(page, person: str) -> None:
    page.get_by_role("radio", name=re.compile(rf"^{person}")).check()
    page.get_by_role("radio", name=SUBSTANTIAL).check()
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_to_pay_lands_on_the_bills(deployment, open_browser, screenshot, departments):
    page = open_browser()
    page.goto(f"{deployment.portal_url}/")
    page.get_by_role("link", name="Sign in to pay").click()
    sign_in_at_idp(page, "Ana Novak")
    expect(page).to_have_url(f"{deployment.portal_url}/bills")
    expect(page.get_by_role("heading", name="Your bills")).to_be_visible()
    screenshot(page, "landing-citizen-bills")


def test_a_clerk_lands_on_the_back_office(deployment, open_browser, screenshot, departments):
    page = open_browser()
    page.goto(f"{deployment.portal_url}/")
    page.get_by_role("link", name="Sign in", exact=True).click()
    sign_in_at_idp(page, "Dan Kralj")
    expect(page).to_have_url(f"{deployment.portal_url}/backoffice")
    screenshot(page, "landing-clerk-backoffice")


def test_a_date_is_typed_in_three_boxes(deployment, open_browser, screenshot, departments):
    page = open_browser()
    page.goto(f"{deployment.portal_url}/applications/new/civil-status-copy")
    sign_in_at_idp(page, "Ana Novak")
    expect(page).to_have_url(f"{deployment.portal_url}/applications/new/civil-status-copy")
    event = page.get_by_role("group", name="Date of the event")
    event.get_by_label("Day").fill("30")
    event.get_by_label("Month").fill("2")
    event.get_by_label("Year").fill("1980")
    page.get_by_role("button", name="Submit application").click()
    expect(page.locator("#event_date-error")).to_contain_text("Enter a real date")
    expect(page.get_by_role("group", name="Date of the event").get_by_label("Day")).to_have_value(
        "30"
    )
    screenshot(page, "memorable-date-error")
