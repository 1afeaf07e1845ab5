"""Each role sees only what it may, with real SAML sessions."""

import re

import pytest

LOW = "http://eidas.europa.eu/LoA/low"


@pytest.mark.parametrize(
    ("persona", "allowed", "refused"),
    [
        ("citizen-ana", ["/account"], ["/backoffice", "/backoffice/departments/revenue"]),
        ("rep-olga", ["/account"], ["/backoffice", "/backoffice/departments/registry"]),
        (
            "clerk-clara",
            ["/account", "/backoffice", "/backoffice/departments/revenue"],
            ["/backoffice/departments/registry"],
        ),
        ("clerk-dan", ["/backoffice/departments/registry"], ["/backoffice/departments/revenue"]),
        (
            "admin-ada",
            ["/backoffice", "/backoffice/departments/revenue", "/backoffice/departments/registry"],
            [],
        ),
    ],
)
def test_role_sees_only_what_it_may(signed_in, persona, allowed, refused):
    app = signed_in(persona)
    for path in allowed:
        app.get(path, status=200)
    for path in refused:
        page = app.get(path, status=403)
        assert "Not allowed" in page.text


def test_back_office_appears_in_navigation_only_for_clerks(signed_in, testapp):
    assert "Back office" not in signed_in("citizen-ana").get("/account").text
    testapp.reset()
    assert "Back office" in signed_in("clerk-clara").get("/account").text


def navigation_of(page) -> list[tuple[str, str, bool]]:
    return [
        (link["href"], link.get_text(strip=True), link.get("aria-current") == "page")
        for link in page.html.find("nav", class_="portal-nav").find_all("a")
    ]


def test_each_person_is_offered_the_entries_of_their_own_roles_in_their_language(
    signed_in, testapp
):
    """The entries offered are worked out once per set of roles and language: people with
    other roles, or in another language, each still get their own, whoever came first."""
    seen = {}
    for persona, language in [
        ("clerk-clara", "en"),
        ("citizen-ana", "en"),
        ("citizen-ana", "fr"),
        ("clerk-clara", "en"),
        ("citizen-ben", "en"),
        ("admin-ada", "en"),
    ]:
        testapp.reset()
        signed_in(persona)
        testapp.set_cookie("portal_language", language)
        page = testapp.get("/bills", headers={"Accept-Language": language})
        seen.setdefault((persona, language), []).append(navigation_of(page))
    clara = seen["clerk-clara", "en"]
    assert clara[0] == clara[1] and ("/backoffice", "Back office", False) in clara[0]
    assert ("/bills", "Your bills", True) in clara[0]  # the page they are on
    (ana,) = seen["citizen-ana", "en"]
    assert not any(href == "/backoffice" for href, _, _ in ana)
    assert seen["citizen-ben", "en"] == [ana]
    (ana_fr,) = seen["citizen-ana", "fr"]
    assert [href for href, _, _ in ana_fr] == [href for href, _, _ in ana]
    assert ("/bills", "Vos factures", True) in ana_fr
    (ada,) = seen["admin-ada", "en"]
    assert ada != clara[0] and ("/backoffice", "Back office", False) in ada


def test_clerk_with_low_assurance_is_refused_with_a_way_forward(signed_in):
    app = signed_in("clerk-clara", loa=LOW)
    page = app.get("/backoffice", status=403)
    assert "A stronger sign-in is needed" in page.text
    link = page.html.find("a", string="Sign in again")["href"]
    assert "loa=http" in link and "next=%2Fbackoffice" in link


@pytest.mark.parametrize(
    ("persona", "method", "path"),
    [
        ("clerk-clara", "get", "/backoffice/imports"),
        ("clerk-clara", "post", "/backoffice/imports"),
        ("admin-ada", "get", "/admin/fees"),
        ("admin-ada", "post", "/admin/fees"),
        ("admin-ada", "post", "/admin/fees/withdraw"),
    ],
)
def test_imports_and_fees_need_a_clerk_level_sign_in(signed_in, persona, method, path):
    """Issuing bills from a file and changing prices are clerk work like the rest."""
    app = signed_in(persona, loa=LOW)
    token = re.search(r'name="csrf_token" value="([^"]+)"', app.get("/account").text)[1]
    if method == "get":
        app.get(path, status=403)
    else:
        app.post(
            path,
            {"csrf_token": token, "entry": "1"},
            headers={"Referer": "https://localhost/"},
            status=403,
        )


def test_stronger_sign_in_is_requested_from_the_idp(signed_in, testapp, devidp):
    from tests.conftest import query_of

    app = signed_in("clerk-clara", loa=LOW)
    link = app.get("/backoffice", status=403).html.find("a", string="Sign in again")["href"]
    query = query_of(app.get(link, status=303).location)
    import base64
    import zlib

    request_xml = zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15).decode()
    assert "RequestedAuthnContext" in request_xml
    assert "http://eidas.europa.eu/LoA/substantial" in request_xml
