"""SAML sign-in and sign-out in headless Chromium, against the real portal and dev IdP over HTTP.

WebTest sends whatever cookies it holds; a browser does not. The IdP's answer is a cross-site
POST, which carries no SameSite=Lax session cookie, so sign-in works only if the pending
request cookie (SameSite=None) reaches the ACS. This checks that in a real browser, with and
without JavaScript on the IdP's hand-off page.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium package", allow_module_level=True
    )
pytest.importorskip("playwright.sync_api", reason="pip install playwright (the [test] extra)")

from playwright.sync_api import expect  # noqa: E402

from portal.identity.saml import REQUEST_COOKIE  # noqa: E402


def pending_request_cookie(page) -> dict:
    return next(c for c in page.context.cookies() if c["name"] == REQUEST_COOKIE)


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_sign_in_crosses_sites_and_sign_out_ends_the_session(
    deployment, open_browser, screenshot, javascript
):
    suffix = "" if javascript else "-nojs"
    page = open_browser(javascript=javascript)
    account_url = f"{deployment.portal_url}/account"

    page.goto(account_url)
    expect(page).to_have_url(re.compile(rf"^{re.escape(deployment.idp_url)}/sso/redirect\?"))
    expect(page.get_by_role("heading", name="Choose a demo person")).to_be_visible()
    cookie = pending_request_cookie(page)
    assert (cookie["sameSite"], cookie["secure"], cookie["httpOnly"], cookie["path"]) == (
        "None",
        True,
        True,
        "/saml/acs",
    )
    page.get_by_role("radio", name=re.compile(r"^Ana Novak")).check()
    page.get_by_role("radio", name=re.compile(r"^Substantial")).check()
    screenshot(page, f"saml-picker{suffix}")

    page.get_by_role("button", name="Sign in").click()
    if not javascript:
        expect(page.get_by_role("heading", name="Signed in")).to_be_visible()
        screenshot(page, "saml-continue-nojs")
        page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(account_url)
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.locator("#account-name")).to_have_text("Ana Novak")
    assert REQUEST_COOKIE not in {c["name"] for c in page.context.cookies()}
    screenshot(page, f"saml-account{suffix}")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{deployment.portal_url}/")
    expect(page.get_by_role("status")).to_contain_text("You have signed out.")
    screenshot(page, f"saml-signed-out{suffix}")
    assert deployment.idp.sessions() == []

    page.goto(account_url)
    expect(page).to_have_url(re.compile(rf"^{re.escape(deployment.idp_url)}/sso/redirect\?"))
    expect(page.get_by_role("heading", name="Choose a demo person")).to_be_visible()
