"""The built-in services (property tax, water supply, waste collection), the catalogue's
search, and keeping the ``service`` rows in step with the registered plugins.

Registration happens at configuration time and writes nothing; :func:`sync_services` writes
the rows, run by ``portal-sync-services INI`` and by the demo data command.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from portal.catalogue.interfaces import (
    TAX,
    UTILITY,
    BillLineInput,
    PublicService,
    ServiceInfo,
    public_services,
)
from portal.catalogue.models import Service
from portal.catalogue.texts import ServiceText
from portal.i18n import _
from portal.identity.models import Department


class BilledByTheOffice:
    """A service whose bills come from its office or company (assessments, meter readings),
    not from a form the citizen fills in."""

    def __init__(self, info: ServiceInfo):
        self.info = info

    def validate(
        self, data: dict[str, str], today: dt.date
    ) -> tuple[dict[str, str], dict[str, str]]:
        return {}, {"": "this service has no application form"}

    def fee(self, dbsession, cleaned: dict[str, str], on: dt.date) -> list[BillLineInput]:
        return []


PROPERTY_TAX = BilledByTheOffice(
    ServiceInfo(
        code="property-tax",
        name=_("Property tax"),
        description=_(
            "The annual tax on land and buildings you own, assessed by the Revenue Office and "
            "paid in instalments."
        ),
        department_code="revenue",
        kind=TAX,
        requirements=(
            _("Nothing to apply for: the Revenue Office sends your assessment."),
            _("Pay each instalment by its due date; you can pay several or the whole year."),
        ),
        cost_explanation=_(
            "The amount is set by your assessment. Paying after a due date adds late payment "
            "interest for each day, shown before you pay."
        ),
    )
)

WATER_SUPPLY = BilledByTheOffice(
    ServiceInfo(
        code="water",
        name=_("Water supply"),
        description=_("Monthly bills of the water company for drinking water and the network."),
        department_code="revenue",
        kind=UTILITY,
        requirements=(_("Your customer number, printed on the water company's bills."),),
        cost_explanation=_("The water company bills what your meter measured, each month."),
    )
)

WASTE_COLLECTION = BilledByTheOffice(
    ServiceInfo(
        code="waste",
        name=_("Waste collection"),
        description=_("Monthly bills for collecting household and commercial waste."),
        department_code="revenue",
        kind=UTILITY,
        requirements=(_("Your customer number, printed on the waste company's bills."),),
        cost_explanation=_("The waste company bills a monthly amount for your household."),
    )
)

BUILT_IN: tuple[PublicService, ...] = (PROPERTY_TAX, WATER_SUPPLY, WASTE_COLLECTION)


def search(services: list[ServiceText], query: str) -> list[ServiceText]:
    """Services whose name or description, as the reader sees them, contain every word of
    ``query`` (case-insensitive), sorted by name."""
    words = query.casefold().split()
    found = []
    for service in services:
        text = f"{service.name} {service.description}".casefold()
        if all(word in text for word in words):
            found.append(service)
    return sorted(found, key=lambda service: service.name.casefold())


@dataclass
class SyncReport:
    created: list[str]
    updated: list[str]
    unregistered: list[str]
    departments_created: list[str]


def sync_services(dbsession, registry) -> SyncReport:
    """Make the ``service`` rows match the registered plugins (code, name, department).

    Rows of services no longer registered stay, since bills refer to them; they are reported.
    """
    report = SyncReport([], [], [], [])
    rows = {service.code: service for service in dbsession.scalars(select(Service))}
    departments = {
        department.code: department for department in dbsession.scalars(select(Department))
    }
    for code, plugin in sorted(public_services(registry).items()):
        info = plugin.info
        department = departments.get(info.department_code)
        if department is None:
            department = Department(code=info.department_code, name=info.department_code)
            dbsession.add(department)
            departments[info.department_code] = department
            report.departments_created.append(info.department_code)
        name = info.name.interpolate() if hasattr(info.name, "interpolate") else str(info.name)
        row = rows.get(code)
        if row is None:
            dbsession.add(Service(code=code, name=name, department=department))
            report.created.append(code)
        elif row.name != name or row.department_id != department.id:
            row.name = name
            row.department = department
            report.updated.append(code)
    report.unregistered = sorted(set(rows) - set(public_services(registry)))
    dbsession.flush()
    return report


def includeme(config) -> None:
    for service in BUILT_IN:
        config.add_public_service(service)
