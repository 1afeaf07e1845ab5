"""Where a sign-in lands: where the person was going, else where their work is; never off site."""

import re
from urllib.parse import urlsplit

import pytest

from tests.conftest import BASE_URL, query_of, sign_in

LOW = "http://eidas.europa.eu/LoA/low"

#: what someone could put in ``next`` or RelayState to send a person to another site
OPEN_REDIRECTS = [
    "//evil.example",
    "///evil.example",
    "https://evil.example/",
    "http:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\nLocation: https://evil.example/",
    "/\x7f/evil.example",
    " //evil.example",
    "/\u3002evil.example",
    "javascript:alert(1)",
    "evil.example",
    "/saml/login?next=//evil.example",
]


def landed(response) -> str:
    assert response.status_int == 303, response.text
    parts = urlsplit(response.location)
    assert f"{parts.scheme}://{parts.netloc}" == BASE_URL
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.mark.parametrize(
    ("persona", "lands_on"),
    [
        ("citizen-ana", "/bills"),
        ("rep-olga", "/bills"),
        ("clerk-clara", "/backoffice"),
        ("clerk-dan", "/backoffice"),
        ("admin-ada", "/backoffice"),
    ],
)
def test_sign_in_without_a_destination_lands_where_the_work_is(
    testapp, devidp, departments, persona, lands_on
):
    assert landed(sign_in(testapp, devidp, persona, next_path="")) == lands_on
    testapp.get(lands_on, status=200)


@pytest.mark.parametrize("persona", ["citizen-ana", "clerk-clara", "admin-ada"])
def test_sign_in_returns_everyone_to_where_they_were_going(testapp, devidp, departments, persona):
    answer = sign_in(testapp, devidp, persona, next_path="/receipts?page=2")
    assert landed(answer) == "/receipts?page=2"


def test_sign_in_to_pay_from_the_start_page_lands_on_the_bills_not_the_start_page(
    testapp, devidp, departments
):
    link = testapp.get("/").html.find("a", string=re.compile("Sign in to pay"))["href"]
    query = query_of(testapp.get(link, status=303).location)
    acs_url, saml_response, relay_state = devidp.respond(query, "citizen-ana")
    answer = testapp.post(
        urlsplit(acs_url).path, {"SAMLResponse": saml_response, "RelayState": relay_state}
    )
    assert landed(answer) == "/bills"
    assert "Your bills" in answer.follow().text


def test_a_page_that_needs_sign_in_is_shown_after_it(testapp, devidp, departments):
    to_sign_in = testapp.get("/account?tab=1", status=303).location
    query = query_of(testapp.get(to_sign_in.removeprefix(BASE_URL), status=303).location)
    acs_url, saml_response, relay_state = devidp.respond(query, "clerk-clara")
    answer = testapp.post(
        urlsplit(acs_url).path, {"SAMLResponse": saml_response, "RelayState": relay_state}
    )
    assert landed(answer) == "/account?tab=1"


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_sign_in_asked_to_go_elsewhere_stays_on_this_site(testapp, devidp, departments, target):
    answer = sign_in(testapp, devidp, "citizen-ana", next_path=target)
    assert landed(answer) == "/bills"


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_the_destination_never_reaches_the_idp_unchecked(testapp, departments, target):
    """The RelayState sent to the IdP is the checked path, so the IdP cannot echo a bad one."""
    query = query_of(testapp.get("/saml/login", params={"next": target}, status=303).location)
    assert query["RelayState"] == "/"


def test_clerk_signing_in_again_more_strongly_returns_to_the_page(testapp, devidp, departments):
    sign_in(testapp, devidp, "clerk-clara", loa=LOW)
    page = testapp.get("/backoffice/departments/revenue?x=1", status=403)
    link = page.html.find("a", string="Sign in again")["href"]
    query = query_of(testapp.get(link, status=303).location)
    acs_url, saml_response, relay_state = devidp.respond(
        query, "clerk-clara", "http://eidas.europa.eu/LoA/substantial"
    )
    answer = testapp.post(
        urlsplit(acs_url).path, {"SAMLResponse": saml_response, "RelayState": relay_state}
    )
    assert landed(answer) == "/backoffice/departments/revenue?x=1"
    testapp.get("/backoffice/departments/revenue?x=1", status=200)


def test_paying_after_a_weak_sign_in_returns_to_the_page_the_form_was_on(
    testapp, devidp, departments
):
    """The refused request is a POST that cannot be repeated by a redirect: the person goes
    back to the page the form was on, as the browser said (Referer), and pays from there."""
    sign_in(testapp, devidp, "citizen-ana", loa=LOW)
    token = re.search(r'name="csrf_token" value="([^"]+)"', testapp.get("/account").text)[1]
    page = testapp.post(
        "/bills/pay",
        {"csrf_token": token, "bill": "0" * 32},
        headers={"Referer": f"{BASE_URL}/bills?service=water"},
        status=403,
    )
    link = page.html.find("a", string="Sign in again")["href"]
    assert query_of(link)["next"] == "/bills?service=water"
    query = query_of(testapp.get(link, status=303).location)
    acs_url, saml_response, relay_state = devidp.respond(
        query, "citizen-ana", "http://eidas.europa.eu/LoA/substantial"
    )
    answer = testapp.post(
        urlsplit(acs_url).path, {"SAMLResponse": saml_response, "RelayState": relay_state}
    )
    assert landed(answer) == "/bills?service=water"
