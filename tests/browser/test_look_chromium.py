"""The pages as people see them on a phone: in headless Chromium at 375 px wide, with
JavaScript off, no page scrolls sideways, the frame (banner, header, navigation, footer) is
there, and each page is saved as a screenshot for people to look at (``var/screenshots``).
axe-core checks each at desktop width here; every page at phone width, with JavaScript on and
off, in every language, is test_axe_chromium's.
"""

from __future__ import annotations

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

from portal.billing import OPEN, with_status  # noqa: E402
from portal.billing.models import Bill  # noqa: E402
from portal.identity.models import User  # noqa: E402
from tests.browser.accessibility import AXE_RULES, AXE_RUN, AXE_SOURCE, AXE_TAGS  # noqa: E402

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
FOOTER_LINKS = ("Accessibility statement", "Privacy notice", "Contact")
#: axe-core from the asset build's node_modules (``make assets``), the engine behind the
#: accessibility checkers people run on government sites


def overflow(page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def accessibility_problems(page) -> list[str]:
    """What axe-core finds on the page as shown (tests/browser/accessibility.py's rules), one
    line per rule and element. ``evaluate`` runs outside the page's CSP, but needs JavaScript
    on: the caller gives a page of a browser with it on."""
    page.evaluate(AXE_SOURCE)
    options = {
        "runOnly": {"type": "tag", "values": list(AXE_TAGS)},
        "rules": {rule: {"enabled": True} for rule in AXE_RULES},
    }
    return [" ".join(found[:3]) for found in page.evaluate(AXE_RUN, options)]


def look_at(page, deployment, screenshot, paths: dict[str, str], persona: str, axe) -> dict:
    """Open each page at phone and desktop width without JavaScript; return the phone
    overflow of each. ``axe``, a page of a browser with JavaScript and the same cookies,
    checks each page at desktop width with axe-core; what it finds fails the test."""
    axe.context.add_cookies(page.context.cookies())
    wide, problems = {}, {}
    for name, path in paths.items():
        page.set_viewport_size(PHONE)
        page.goto(f"{deployment.portal_url}{path}")
        expect(page.locator("main h1")).to_be_visible()
        footer = page.locator("footer")
        for label in FOOTER_LINKS:
            expect(footer.get_by_role("link", name=label, exact=True)).to_be_visible()
        wide[name] = overflow(page)
        screenshot(page, f"look-{persona}-{name}-375")
        page.set_viewport_size(DESKTOP)
        screenshot(page, f"look-{persona}-{name}-1280")
        axe.set_viewport_size(DESKTOP)
        axe.goto(f"{deployment.portal_url}{path}")
        problems[name] = accessibility_problems(axe)
    assert {name: found for name, found in problems.items() if found} == {}
    return wide


def test_citizen_pages_fit_a_phone(deployment, open_browser, screenshot, demo_world, dbsession):
    ana = dbsession.scalar(select(User).where(User.name_id == "citizen-ana"))
    bills = dbsession.scalars(select(Bill).where(Bill.payer_user_id == ana.id)).all()
    # the demo's bank statement pays some of Ana's bills: a payment is of bills still open
    bills = [view.bill for view in with_status(dbsession, list(bills)) if view.status == OPEN]
    payment = factories.payment(dbsession, ana, bills[:2])
    dbsession.commit()

    page = open_browser(javascript=False)
    page.set_viewport_size(PHONE)
    sign_in(page, deployment, "Ana Novak", "/account")
    header = page.locator("header")
    expect(header).to_contain_text("Signed in as Ana Novak")
    expect(header.get_by_role("button", name="Sign out")).to_be_visible()
    # the official-site banner opens without JavaScript
    page.get_by_text("Here’s how you know").click()
    expect(page.get_by_text("Secure websites use HTTPS")).to_be_visible()

    wide = look_at(
        page,
        deployment,
        screenshot,
        {
            "home": "/",
            "account": "/account",
            "bills": "/bills",
            "payment": f"/payments/{payment.public_id}",
            "payments": "/payments",
            "receipts": "/receipts",
            "utilities": "/utilities",
            "services": "/services",
            "service": "/services/vehicle-registration",
            "applications": "/applications",
            "verify": "/verify",
            "accessibility": "/accessibility",
            "privacy": "/privacy",
            "contact": "/contact",
            "not-found": "/nowhere",
        },
        "citizen",
        open_browser(),
    )
    assert wide == dict.fromkeys(wide, 0)


@pytest.mark.parametrize(
    ("persona", "paths"),
    [
        (
            "Clara Zupan",
            {
                "backoffice": "/backoffice",
                "department": "/backoffice/departments/revenue",
                "department-payments": "/backoffice/departments/revenue/payments",
                "reconciliation": "/backoffice/reconciliation",
            },
        ),
        (
            "Dan Kralj",
            {"queue": "/backoffice/departments/registry/applications"},
        ),
        (
            "Ada Lovrec",
            {"fees": "/admin/fees", "imports": "/backoffice/imports"},
        ),
    ],
)
def test_staff_pages_fit_a_phone(deployment, open_browser, screenshot, demo_world, persona, paths):
    page = open_browser(javascript=False)
    sign_in(page, deployment, persona, "/account")
    wide = look_at(page, deployment, screenshot, paths, persona.split()[0].lower(), open_browser())
    assert wide == dict.fromkeys(wide, 0)


def test_signed_out_visitor_sees_the_public_pages(deployment, open_browser, screenshot):
    page = open_browser(javascript=False)
    wide = look_at(
        page,
        deployment,
        screenshot,
        {
            "start": "/",
            "services": "/services",
            "verify": "/verify",
            "accessibility": "/accessibility",
        },
        "visitor",
        open_browser(),
    )
    assert wide == dict.fromkeys(wide, 0)
    expect(page.locator("header").get_by_role("link", name="Sign in")).to_be_visible()


#: window widths where "my bills" is laid out as a table (it is stacked below 880 px)
LAPTOP_WIDTHS = (880, 960, 1024, 1100, 1280)


def test_bills_fit_a_laptop_window_in_every_language(deployment, open_browser, demo_world):
    """Eight columns in French or Polish were up to 200 px wider than a 880-1100 px window."""
    page = open_browser(javascript=False)
    sign_in(page, deployment, "Ana Novak", "/bills")
    expect(page.locator(".portal-bills th", has_text="Reference").first).to_be_visible()
    wide = {}
    for language in ("en", "sl", "pl", "fr", "zh_Hans"):
        page.set_viewport_size(DESKTOP)
        if language != "en":  # the page's own language is not a button
            page.locator(f"button[name=language][value={language}]").click()
        expect(page.locator("html")).to_have_attribute("lang", language.replace("_", "-"))
        for width in LAPTOP_WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            wide[f"{language} @ {width} px"] = overflow(page)
    assert wide == dict.fromkeys(wide, 0)
