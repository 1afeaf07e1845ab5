"""A citizen pays two bills with the keyboard alone: Tab, Shift+Tab, Enter, Space and typing,
never the mouse. Signing in at the development IdP, choosing two bills, the review, the
sandbox provider's card page, the result and the receipt; and after every key that moves the
focus, the focused element shows that it has it (an outline or a box shadow of some width,
on the element or, for a visually hidden USWDS checkbox or radio, on its label's box)."""

from __future__ import annotations

import re

import pytest

from tests import factories
from tests.browser.conftest import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium package", allow_module_level=True
    )
pytest.importorskip("playwright.sync_api", reason="pip install playwright (the [test] extra)")

from playwright.sync_api import expect  # noqa: E402

#: whether the focused element shows it has the focus ('') or what it is (it does not)
FOCUS_NOT_SHOWN = """async () => {
    const focused = document.activeElement;
    if (!focused || focused === document.body) return 'nothing has the focus';
    // as it is once its transitions end (the skip link slides in)
    await Promise.all(focused.getAnimations().map(animation => animation.finished));
    const width = text => /[1-9]/.test(text.replace(/rgba?\\([^)]*\\)/g, ''));
    const shows = style => (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
        || (style.boxShadow !== 'none' && width(style.boxShadow));
    const boxes = [[focused, null]].concat(
        Array.from(focused.labels || [], label => [label, '::before']));
    const shown = boxes.some(([element, pseudo]) => {
        const box = element.getBoundingClientRect();
        const style = getComputedStyle(element, pseudo);
        return box.width > 0 && box.height > 0 && box.right > 0 && box.bottom > 0
            && (shows(getComputedStyle(element)) || shows(style));
    });
    return shown ? '' : `${focused.outerHTML.slice(0, 160)} shows no focus`;
}"""


def focus_is_shown(page) -> None:
    assert page.evaluate(FOCUS_NOT_SHOWN) == "", page.url


def tab_to(page, target, backwards: bool = False, limit: int = 60) -> None:
    """Press Tab (Shift+Tab ``backwards``) until ``target`` has the focus, checking at every
    press that the focus shows."""
    for _press in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        focus_is_shown(page)
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{target} not reached in {limit} presses of the Tab key")


def press(page, key: str) -> None:
    """Press ``key`` on what has the focus, which opens another page."""
    with page.expect_navigation():
        page.keyboard.press(key)


def type_into(page, field, text: str) -> None:
    tab_to(page, field)
    page.keyboard.type(text)


@pytest.fixture
def bills(deployment, dbsession):
    ana = factories.user(dbsession, "citizen-ana", idp=deployment.idp.entity_id)
    ana.given_name, ana.family_name = "Ana", "Novak"
    made = [
        factories.bill(dbsession, ana, amount=120_00, description="Property tax 2026 Q1"),
        factories.bill(
            dbsession, ana, amount=35_40, service_code="water", description="Water, October"
        ),
    ]
    dbsession.commit()
    return made


def test_pay_two_bills_with_the_keyboard_alone(deployment, open_browser, screenshot, bills):
    page = open_browser(javascript=True)
    page.goto(deployment.portal_url)

    tab_to(page, page.get_by_role("link", name="Skip to main content"))
    tab_to(page, page.locator("header").get_by_role("link", name="Sign in"))
    press(page, "Enter")
    # the development IdP: Ana is the first person, Substantial assurance is already chosen
    tab_to(page, page.get_by_role("radio", name=re.compile("^Ana Novak")))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Sign in"))
    press(page, "Enter")
    expect(page.locator("header")).to_contain_text("Signed in as Ana Novak")

    tab_to(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Your bills"))
    press(page, "Enter")
    property_tax, water = (
        page.get_by_role("checkbox", name=re.compile(bill.description)) for bill in bills
    )
    tab_to(page, water)
    page.keyboard.press("Space")
    tab_to(page, property_tax, backwards=True)
    page.keyboard.press("Space")
    expect(property_tax).to_be_checked()
    expect(water).to_be_checked()
    screenshot(page, "keyboard-bills")
    tab_to(page, page.get_by_role("button", name="Pay selected bills"))
    press(page, "Enter")

    expect(page.get_by_role("heading", name="Total to pay: €155.40")).to_be_visible()
    tab_to(page, page.get_by_role("button", name="Pay €155.40"))
    screenshot(page, "keyboard-review")
    press(page, "Enter")

    expect(page.get_by_role("heading", name="Pay by card")).to_be_visible()
    type_into(page, page.get_by_label("Card number"), "4242 4242 4242 4242")
    type_into(page, page.get_by_label("Expiry date"), "12/39")
    type_into(page, page.get_by_label("Security code (CVC)"), "123")
    type_into(page, page.get_by_label("Name on card"), "Ana Novak")
    tab_to(page, page.get_by_role("button", name="Pay 155.40 EUR"))
    press(page, "Enter")

    paid = page.get_by_role("heading", name="Paid", exact=True)
    receipt = page.get_by_role("link", name=re.compile(r"^Receipt R-\d{4}-\d{6} \(PDF\)$"))
    for _attempt in range(20):  # the provider's word, then the signed receipt
        if paid.count() and receipt.count():
            break
        page.wait_for_timeout(1_000)
        if paid.count():  # the receipt is being prepared: back to the payment from the list
            tab_to(page, page.get_by_role("link", name="Your payments"))
            press(page, "Enter")
            tab_to(page, page.get_by_role("link", name="Details"))
        else:
            tab_to(page, page.get_by_role("link", name="Check again"))
        press(page, "Enter")
    expect(paid).to_be_visible()
    screenshot(page, "keyboard-result")
    tab_to(page, receipt)
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename.endswith(".pdf")
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
