"""An application's page in the portal's frame: the header and title name the portal, the
breadcrumbs lead back to the applications, and the step indicator says where it stands."""

from tests.functional.applications.conftest import apply


def test_application_page_names_the_portal_and_shows_the_step(citizen):
    public_id = apply(citizen)
    page = citizen.get(f"/applications/{public_id}")
    title = "Vehicle registration – Public services payments – City of Example"
    assert page.html.title.get_text() == title
    header = page.html.find(class_="portal-header__service").get_text(strip=True)
    assert header == "Public services payments"
    crumbs = page.html.find("nav", class_="usa-breadcrumb").find_all("li")
    assert [li.get_text(strip=True) for li in crumbs] == [
        "Home",
        "Applications",
        "Vehicle registration",
    ]
    current = page.html.find(attrs={"aria-current": "step"}).get_text(strip=True)
    assert current == "Pay the fee"
    assert page.html.find(id="status")["class"] == ["usa-tag", "portal-status--awaiting_payment"]
