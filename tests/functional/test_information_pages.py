"""The pages every page's footer links to: public, in the layout, with the authority's own
contact details; and the frame every page shares (title, banner, no request reference)."""

import re

import pytest

FOOTER = {
    "/accessibility": "Accessibility statement",
    "/privacy": "Privacy notice",
    "/contact": "Contact",
}


def footer_links(page) -> dict[str, str]:
    footer = page.html.find("footer")
    return {a.get_text(strip=True): a["href"] for a in footer.find_all("a")}


@pytest.mark.parametrize("path", ["/", "/services", "/nowhere"])
def test_every_page_links_the_footer_pages(testapp, path):
    page = testapp.get(path, status="*")
    assert {label: href for href, label in FOOTER.items()}.items() <= footer_links(page).items()


@pytest.mark.parametrize(("path", "title"), FOOTER.items())
def test_footer_pages_are_public_and_titled(testapp, path, title):
    page = testapp.get(path, status=200)
    assert page.html.title.get_text() == f"{title} – Public services payments – City of Example"
    assert page.html.find("main").find("h1")


def contact_page(app_settings, **extra):
    """The contact page of a portal started with ``extra`` settings."""
    import webtest

    import portal

    app = portal.main({}, **{**app_settings, **extra})
    return webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https"}).get("/contact")


def test_contact_details_come_from_the_settings(app_settings, engine):
    page = contact_page(
        app_settings,
        **{
            "portal.authority_name": "Town of Elsewhere",
            "portal.contact_email": "help@elsewhere.example",
            "portal.contact_phone": "+386 1 234 56 78",
            "portal.contact_address": "Town Hall\n2 High Street\n2000 Elsewhere",
            "mail.default_sender": "noreply@elsewhere.example",
        },
    )
    details = page.html.find(id="contact-details").get_text(" ", strip=True)
    assert "help@elsewhere.example" in details and "+386 1 234 56 78" in details
    assert "noreply" not in details
    assert "Town of Elsewhere, Town Hall, 2 High Street, 2000 Elsewhere" in details
    assert page.html.title.get_text() == "Contact – Public services payments – Town of Elsewhere"
    assert "An official website of Town of Elsewhere" in page.text


def test_contact_details_fall_back_to_the_sender_and_the_receipts_address(app_settings, engine):
    page = contact_page(
        app_settings,
        **{
            "mail.default_sender": "payments@example.gov",
            "receipts.authority_address": "1 Main Square, 1000 Example City",
        },
    )
    details = page.html.find(id="contact-details").get_text(" ", strip=True)
    assert "payments@example.gov" in details
    assert "City of Example, 1 Main Square, 1000 Example City" in details


def test_start_page_title_is_the_service_and_authority(testapp):
    assert testapp.get("/").html.title.get_text() == "Public services payments – City of Example"


def test_request_reference_only_on_error_pages(testapp):
    home = testapp.get("/")
    assert home.headers["X-Request-ID"] not in home.text
    assert not re.search(r"\b[0-9a-f]{32}\b", home.text)
    missing = testapp.get("/nowhere", status=404)
    reference = missing.html.find(id="request-reference").get_text(strip=True)
    assert reference == missing.headers["X-Request-ID"]
