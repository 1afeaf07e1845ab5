"""``.venv/bin/python deploy/check_prod_local.py [URL]``: what a person does on the running
``make prod-local``, through nginx, as a browser does it, each step checked and printed.

Static files come from nginx, gzipped and cached; /readyz answers; a citizen signs in at the
development IdP, pays one bill at the sandbox's hosted page with its test card, comes back to
the portal, and the payment succeeds (the sandbox's notification, through nginx too) with its
receipt. Exits 1 at the first check that does not hold.
"""

from __future__ import annotations

import re
import sys
import time
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests

PERSONA = "citizen-ana"
LOA = "http://eidas.europa.eu/LoA/substantial"
TEST_CARD = {
    "card_number": "4242 4242 4242 4242",
    "expiry": "12/39",
    "cvc": "123",
    "cardholder_name": "Ana Novak",
}


class Forms(HTMLParser):
    """Every form of a page: its action, method and fields (the first value of each name, and
    for buttons, radio buttons and checkboxes every value, in ``choices``)."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "action": attrs.get("action", ""),
                    "method": attrs.get("method", "get"),
                    "fields": {},
                    "choices": {},
                }
            )
        elif tag in ("input", "button") and self.forms and attrs.get("name"):
            form = self.forms[-1]
            if tag == "button" or attrs.get("type") in ("radio", "checkbox"):
                form["choices"].setdefault(attrs["name"], []).append(attrs.get("value", "on"))
            elif tag == "input":
                form["fields"].setdefault(attrs["name"], attrs.get("value", ""))


class Browser(requests.Session):
    """Browsers send ``Secure`` cookies to http://localhost (a secure context), and the
    portal's SAML request cookie is one (SameSite=None needs it); Python's cookie jar sends
    them over HTTPS only, so here a cookie from localhost is kept as a browser keeps it."""

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", 30)
        answer = super().request(*args, **kwargs)
        for cookie in self.cookies:
            if cookie.domain in ("localhost.local", "127.0.0.1"):
                cookie.secure = False
        return answer


def form_with(html: str, field: str, action: str = "") -> dict:
    """The page's first form with ``field`` whose action contains ``action``."""
    for form in Forms(html).forms:
        if (field in form["fields"] or field in form["choices"]) and action in form["action"]:
            return form
    raise AssertionError(f"no form with {field!r} to {action!r} on the page")


def check(condition: bool, what: str) -> None:
    if not condition:
        print(f"FAIL: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def sign_in(browser: Browser, base: str, persona: str = PERSONA) -> None:
    """SP-initiated sign-in: the portal's redirect, the IdP's persona picker, the IdP's form
    posting the answer back to the portal's ACS."""
    start = browser.get(f"{base}/saml/login", params={"next": "/bills"}, allow_redirects=False)
    check(start.status_code == 303, "the portal sends the browser to the IdP")
    picker = browser.get(start.headers["Location"])
    form = form_with(picker.text, "persona")
    answer = browser.post(
        urljoin(picker.url, form["action"]), data={**form["fields"], "persona": persona, "loa": LOA}
    )
    posted = form_with(answer.text, "SAMLResponse")
    landed = browser.post(posted["action"], data=posted["fields"], allow_redirects=False)
    check(
        landed.status_code == 303 and "portal_session" in browser.cookies,
        f"{persona} signed in (session cookie set)",
    )


def static_file(base: str, page_html: str) -> None:
    match = re.search(r'href="(/static/build/portal\.css\?v=[0-9a-f]+)"', page_html)
    check(match is not None, "the page names its stylesheet by content hash")
    answer = requests.get(
        base + match.group(1), headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10
    )
    check(answer.status_code == 200, "the stylesheet is served")
    check(answer.headers.get("Content-Encoding") == "gzip", "gzipped (nginx's gzip_static)")
    cache = answer.headers.get("Cache-Control", "")
    check("max-age=31536000" in cache and "immutable" in cache, f"cached for a year: {cache}")
    check("Server" not in answer.headers or "/" not in answer.headers["Server"], "no version")


def pay_one_bill(browser: requests.Session, base: str) -> str:
    bills = browser.get(f"{base}/bills")
    check(bills.status_code == 200, "the bills page, through nginx")
    form = form_with(bills.text, "only")
    headers = {"Origin": base}
    # the first bill with no payment under way (an earlier run may have left one)
    for bill in form["choices"]["only"]:
        fields = {**form["fields"], "only": bill}
        review = browser.post(urljoin(bills.url, form["action"]), data=fields, headers=headers)
        if review.status_code != 409:
            break
    check(review.status_code == 200 and "/checkout" in review.url, f"review of bill {bill}")
    checkout = form_with(review.text, "csrf_token", action="/checkout")
    hosted = browser.post(
        urljoin(review.url, checkout["action"]),
        data=checkout["fields"],
        headers=headers,
        allow_redirects=False,
    )
    check(hosted.status_code == 303, "the portal sends the browser to the sandbox's page")
    card = browser.post(hosted.headers["Location"], data=TEST_CARD, allow_redirects=False)
    check(card.status_code == 303, "the sandbox takes the test card")
    back = browser.get(card.headers["Location"])
    check(back.status_code == 200 and back.url.startswith(base), f"back at {back.url}")
    return back.url


RECEIPT_LINK = re.compile(r'href="(/receipts/[^"]+\.pdf)"')


def wait_for_receipt(browser: requests.Session, url: str, seconds: float = 60) -> str:
    """The payment's page until it links its receipt: the sandbox's notification (or a worker's
    query of the provider) settled the payment, and a worker issued the receipt."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        link = RECEIPT_LINK.search(browser.get(url).text)
        if link:
            return link.group(1)
        time.sleep(2)
    check(False, f"the payment succeeded and its receipt was issued within {seconds} s")
    return ""


def main(argv: list[str]) -> None:
    base = (argv[0] if argv else "http://localhost:8080").rstrip("/")
    ready = requests.get(f"{base}/readyz", timeout=5)
    check(ready.status_code == 200, f"/readyz through nginx: {ready.text.strip()}")
    check(requests.get(f"{base}/healthz", timeout=5).status_code == 200, "/healthz")
    browser = Browser()
    sign_in(browser, base)
    static_file(base, browser.get(f"{base}/bills").text)
    returned = pay_one_bill(browser, base)
    receipt = wait_for_receipt(browser, returned)
    check(True, f"the payment succeeded: its page links receipt {receipt}")
    pdf = browser.get(urljoin(returned, receipt))
    check(pdf.content.startswith(b"%PDF"), f"the receipt downloads ({len(pdf.content)} bytes)")
    print("prod-local works end to end")


if __name__ == "__main__":
    main(sys.argv[1:])
