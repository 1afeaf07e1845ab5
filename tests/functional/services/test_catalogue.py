"""The public catalogue: registered plugins, search, a page per service, and the service rows
kept in step with the plugins."""

import datetime as dt

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationConflictError
from sqlalchemy import select

from portal.catalogue.interfaces import add_public_service, public_services
from portal.catalogue.models import Service
from portal.services.catalogue import PROPERTY_TAX, sync_services
from portal.services.models import FeeScheduleEntry
from tests.functional.services.conftest import today


def names(page) -> list[str]:
    return [a.text for a in page.html.select(".usa-card__heading a")]


def test_the_built_in_services_are_registered(wsgi_app):
    registered = public_services(wsgi_app.registry)
    assert {"property-tax", "water", "waste"} <= set(registered)
    assert registered["property-tax"].info.kind == "tax"
    assert registered["water"].info.kind == registered["waste"].info.kind == "utility"


def test_catalogue_is_public_and_lists_every_listed_service(testapp, wsgi_app):
    page = testapp.get("/services", status=200)
    listed = [s for s in public_services(wsgi_app.registry).values() if s.info.listed]
    assert len(names(page)) == len(listed)
    assert {"Property tax", "Water supply", "Waste collection"} <= set(names(page))


def test_services_billed_only_by_a_tender_are_not_in_the_catalogue(testapp, wsgi_app):
    """A tender's bid fee and security are registered services (their bills name them) that
    nobody applies for: the catalogue neither lists nor shows them."""
    registered = public_services(wsgi_app.registry)
    assert not registered["tender-bid-fee"].info.listed
    assert not registered["tender-bid-security"].info.listed
    page = testapp.get("/services", status=200)
    assert "Tender bid fee" not in page and "Tender bid security" not in page
    testapp.get("/services/tender-bid-fee", status=404)
    assert "Tender bid" not in testapp.get("/services", {"q": "tender"})


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("WATER", ["Water supply"]),  # name, any case
        ("instalments", ["Property tax"]),  # description
        ("monthly bills", ["Waste collection", "Water supply"]),  # every word, sorted by name
        ("no-such-thing", []),
    ],
)
def test_search_by_name_or_description_ignores_case(testapp, query, expected):
    page = testapp.get("/services", params={"q": query})
    found = [
        name for name in names(page) if name in ("Property tax", "Water supply", "Waste collection")
    ]
    assert found == expected
    if not expected:
        assert "No service matches your search." in page.text


def test_a_service_page_shows_the_fees_in_force_and_those_decided(testapp, dbsession, services):
    dbsession.add_all(
        [
            FeeScheduleEntry(
                service_code="water",
                item_code="network",
                label="Network fee (old)",
                amount_minor=3_00,
                currency="EUR",
                effective_from=dt.date(2020, 1, 1),
            ),
            FeeScheduleEntry(
                service_code="water",
                item_code="network",
                label="Network fee",
                amount_minor=4_80,
                currency="EUR",
                effective_from=today(),
            ),
            FeeScheduleEntry(
                service_code="water",
                item_code="network",
                label="Network fee (next year)",
                amount_minor=5_10,
                currency="EUR",
                effective_from=today() + dt.timedelta(days=40),
            ),
        ]
    )
    dbsession.commit()
    page = testapp.get("/services/water", status=200)
    in_force = page.html.select_one("table").text
    assert "Network fee" in in_force and "€4.80" in in_force
    assert "€3.00" not in page.text
    assert "Changes already decided" in page.text and "€5.10" in page.text
    assert "Revenue Office" in page.text  # the owning department, from the service row
    assert "customer number" in page.text  # what is needed


def test_an_unknown_service_is_not_found(testapp):
    testapp.get("/services/no-such-service", status=404)


def test_sync_makes_the_rows_match_the_plugins_and_is_idempotent(wsgi_app, dbsession, departments):
    dbsession.add(Service(code="retired", name="Old service", department=departments[0]))
    dbsession.add(Service(code="water", name="Outdated name", department=departments[1]))
    dbsession.commit()
    report = sync_services(dbsession, wsgi_app.registry)
    dbsession.commit()
    assert "property-tax" in report.created and report.updated == ["water"]
    assert report.unregistered == ["retired"]
    water = dbsession.scalar(select(Service).where(Service.code == "water"))
    assert (water.name, water.department.code) == ("Water supply", "revenue")
    again = sync_services(dbsession, wsgi_app.registry)
    assert (again.created, again.updated) == ([], [])
    codes = set(dbsession.scalars(select(Service.code)))
    assert codes == set(public_services(wsgi_app.registry)) | {"retired"}


def test_registering_nothing_writes_nothing(wsgi_app, dbsession):
    """Configuration never touches the database: the rows come from the sync only."""
    assert dbsession.scalar(select(Service.id)) is None


def test_two_services_with_one_code_are_a_configuration_conflict():
    config = Configurator(settings={})
    config.add_directive("add_public_service", add_public_service)
    config.add_public_service(PROPERTY_TAX)
    config.add_public_service(PROPERTY_TAX)
    with pytest.raises(ConfigurationConflictError):
        config.commit()
