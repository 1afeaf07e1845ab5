"""``portal-demo-data INI``: the demo world ``make run`` shows. Idempotent: run it as often as
you like, it creates what is missing and leaves the rest.

The people are the development IdP's personas, created through the same provisioning code a
real sign-in uses, so signing in as one of them finds their account, organisation and role.
"""

from __future__ import annotations

import argparse
import datetime as dt

from pyramid.paster import bootstrap, setup_logging
from sqlalchemy import select

from portal.billing.bills import BillLineInput, issue_bill
from portal.billing.models import Bill
from portal.billing.money import Money
from portal.devidp.personas import PERSONAS
from portal.identity.models import Department, Organisation, User
from portal.identity.provisioning import provision_user
from portal.services.models import Service

DEV_IDP_ENTITY_ID = "http://localhost:6544/metadata"

DEPARTMENTS = {
    "revenue": "Revenue Office",
    "registry": "Civil Registry and Licensing",
}

SERVICES = [
    ("property-tax", "Property tax", "revenue"),
    ("water", "Water supply", "revenue"),
    ("waste", "Waste collection", "revenue"),
    ("vehicle-registration", "Vehicle registration", "registry"),
    ("business-licence", "Business licence", "registry"),
    ("civil-status-copy", "Certified copy of a civil status record", "registry"),
]


#: (service, number suffix, description, lines) issued to every demo citizen
CITIZEN_BILLS = [
    (
        "property-tax",
        "PT26-1",
        "Property tax 2026, first instalment",
        [("Annual property tax 2026, 1 of 2", 184_50)],
    ),
    (
        "property-tax",
        "PT26-2",
        "Property tax 2026, second instalment",
        [("Annual property tax 2026, 2 of 2", 184_50)],
    ),
    (
        "water",
        "W2610",
        "Water supply, October 2026",
        [("Water, 9 m³", 16_20), ("Network fee", 4_80)],
    ),
    ("waste", "G2610", "Waste collection, October 2026", [("Household waste, monthly", 12_90)]),
    (
        "vehicle-registration",
        "VR26",
        "Vehicle registration fee",
        [("Passenger car registration", 45_00), ("Plates", 12_00)],
    ),
]

ORGANISATION_BILLS = [
    ("business-licence", "BL26", "Business licence renewal 2027", [("Annual licence", 250_00)]),
    (
        "waste",
        "GC2610",
        "Commercial waste collection, October 2026",
        [("Commercial waste, monthly", 89_00)],
    ),
]


def _issue_demo_bills(dbsession, today: dt.date) -> None:
    services = {service.code: service for service in dbsession.scalars(select(Service))}
    payers = [
        (user, None, user.name_id)
        for user in dbsession.scalars(select(User).where(User.idp_entity_id == DEV_IDP_ENTITY_ID))
    ]
    payers += [
        (None, organisation, organisation.registration_number)
        for organisation in dbsession.scalars(select(Organisation))
    ]
    for user, organisation, key in payers:
        for code, suffix, description, lines in (
            ORGANISATION_BILLS if organisation else CITIZEN_BILLS
        ):
            number = f"{suffix}-{key}"
            exists = dbsession.scalar(
                select(Bill.id).where(Bill.service_id == services[code].id, Bill.number == number)
            )
            if exists is None:
                issue_bill(
                    dbsession,
                    service=services[code],
                    number=number,
                    description=description,
                    due_date=today + dt.timedelta(days=30),
                    lines=[BillLineInput(text, Money(amount, "EUR")) for text, amount in lines],
                    payer_user=user,
                    payer_organisation=organisation,
                )


def load(dbsession, vault, attribute_map) -> None:
    departments = {}
    for code, name in DEPARTMENTS.items():
        department = dbsession.scalar(select(Department).where(Department.code == code))
        if department is None:
            department = Department(code=code, name=name)
            dbsession.add(department)
        departments[code] = department
    dbsession.flush()
    for code, name, department_code in SERVICES:
        if dbsession.scalar(select(Service).where(Service.code == code)) is None:
            dbsession.add(Service(code=code, name=name, department=departments[department_code]))
    for persona in PERSONAS:
        provision_user(
            dbsession, vault, attribute_map, DEV_IDP_ENTITY_ID, persona.id, persona.attributes()
        )
    dbsession.flush()
    _issue_demo_bills(dbsession, dt.date.today())
    dbsession.flush()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config_uri")
    args = parser.parse_args(argv)
    setup_logging(args.config_uri)
    with bootstrap(args.config_uri) as env:
        request = env["request"]
        with request.tm:
            load(request.dbsession, request.pii, request.registry["saml"].attributes)
    print("demo data loaded")


if __name__ == "__main__":
    main()
