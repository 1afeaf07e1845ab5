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

from portal.billing import BillLineInput, issue_bill, refund_bill, settling_payment
from portal.billing.models import Bill
from portal.catalogue.models import Service
from portal.clock import clock
from portal.devidp.personas import PERSONAS
from portal.identity.models import Department, Organisation, User
from portal.identity.provisioning import provision_user
from portal.money import Money
from portal.scripts import demo_bank, demo_cases, demo_payments, demo_tenders, demo_webhooks
from portal.scripts.demo_texts import translations
from portal.services.catalogue import sync_services
from portal.services.imports import Assessment, issue_assessment
from portal.services.models import FeeScheduleEntry, TaxAssessment, UtilityBill
from portal.services.utilities import record_utility_bill

DEV_IDP_ENTITY_ID = "http://localhost:6544/metadata"

DEPARTMENTS = {
    "revenue": "Revenue Office",
    "registry": "Civil Registry and Licensing",
    "procurement": "Public Procurement Office",
}

SERVICES = [
    ("property-tax", "Property tax", "revenue"),
    ("water", "Water supply", "revenue"),
    ("waste", "Waste collection", "revenue"),
    ("vehicle-registration", "Vehicle registration", "registry"),
    ("business-licence", "Business licence", "registry"),
    ("civil-status-copy", "Certified copy of a civil status record", "registry"),
]


#: (service, number suffix, description, lines) issued to every demo citizen; their property
#: tax comes as an assessment instead (DEMO_ASSESSMENTS)
CITIZEN_BILLS = [
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


#: (service, item, label, amount) of the demo fee schedules, in force since DEMO_FEES_FROM;
#: every demo text is in the other languages too (portal.scripts.demo_texts)
DEMO_FEES = [
    ("vehicle-registration", "passenger-car", "Passenger car registration", 45_00),
    ("vehicle-registration", "motorcycle", "Motorcycle registration", 25_00),
    ("vehicle-registration", "trailer", "Trailer registration", 20_00),
    ("vehicle-registration", "truck", "Truck registration", 120_00),
    ("business-licence", "licence", "Business licence, one year", 250_00),
    ("civil-status-copy", "copy", "Certified copy, each", 8_50),
    ("tender-complaint-fee", "complaint", "Complaint against a tender award", 500_00),
]
DEMO_FEES_FROM = dt.date(2020, 1, 1)

#: Every demo citizen's property is assessed once for the year, in two instalments:
#: (persona, assessment number, property, total). Ana's first instalment is overdue, so paying
#: it shows late interest; the others' fall due later.
DEMO_ASSESSMENT = ("citizen-ana", "PT-ANA-0001", "1721-100", 412_60)
DEMO_ASSESSMENTS = [
    DEMO_ASSESSMENT,
    *(
        (persona.id, f"PT-{persona.id.upper()}", f"1721-{101 + index}", 369_00)
        for index, persona in enumerate(PERSONAS)
        if persona.id != DEMO_ASSESSMENT[0]
    ),
]

#: Bills a few demo payers pay when the demo is loaded, so the clerks' reports show
#: collections of both departments, of several services, and one refund:
#: (payer, bill numbers paid together in one payment)
DEMO_SETTLED = [
    ("citizen-ben", ["W2610-citizen-ben", "G2610-citizen-ben"]),
    ("citizen-chloe", ["VR26-citizen-chloe"]),
    ("citizen-chloe", ["W2610-citizen-chloe"]),
    ("rep-olga", ["BL26-NW-100200", "GC2610-NW-100200"]),
]
#: a bill paid above and refunded, as a clerk would after a complaint
DEMO_REFUNDED = "W2610-citizen-chloe"
#: older bills left unpaid, so receivables age into every band: (persona, service, number,
#: description, amount, days overdue)
DEMO_OVERDUE = [
    ("citizen-ben", "waste", "G2609-citizen-ben", "Waste collection, September 2026", 12_90, 12),
    ("citizen-chloe", "water", "W2605-citizen-chloe", "Water supply, May 2026", 19_40, 130),
]

#: customer numbers of the demo citizens' utility accounts, with the demo bills they hold
UTILITY_ACCOUNTS = [("water", "W2610", "W-"), ("waste", "G2610", "G-")]


def _set_demo_fees(dbsession) -> None:
    for service_code, item_code, label, amount in DEMO_FEES:
        exists = dbsession.scalar(
            select(FeeScheduleEntry.id).where(
                FeeScheduleEntry.service_code == service_code,
                FeeScheduleEntry.item_code == item_code,
                FeeScheduleEntry.effective_from == DEMO_FEES_FROM,
            )
        )
        if exists is None:
            dbsession.add(
                FeeScheduleEntry(
                    service_code=service_code,
                    item_code=item_code,
                    label=label,
                    label_translations=translations(label),
                    amount_minor=amount,
                    currency="EUR",
                    effective_from=DEMO_FEES_FROM,
                )
            )
    dbsession.flush()


def _assess_demo_property_tax(dbsession, clock) -> None:
    today = clock.today()
    service = dbsession.scalar(select(Service).where(Service.code == "property-tax"))
    for name_id, number, property_ref, total in DEMO_ASSESSMENTS:
        if dbsession.scalar(
            select(TaxAssessment.id).where(
                TaxAssessment.service_id == service.id, TaxAssessment.number == number
            )
        ):
            continue
        payer = dbsession.scalar(
            select(User).where(User.idp_entity_id == DEV_IDP_ENTITY_ID, User.name_id == name_id)
        )
        if (name_id, number, property_ref, total) == DEMO_ASSESSMENT:
            due_dates = (today - dt.timedelta(days=45), today + dt.timedelta(days=60))
        else:
            due_dates = (today + dt.timedelta(days=30), today + dt.timedelta(days=210))
        issue_assessment(
            dbsession,
            service,
            Assessment(0, payer, number, property_ref, today.year, Money(total, "EUR"), due_dates),
            clock.now(),
        )


def _open_demo_utility_accounts(dbsession) -> None:
    """Each demo citizen's water and waste bills sit on an account with a customer number."""
    for service_code, bill_prefix, customer_prefix in UTILITY_ACCOUNTS:
        service = dbsession.scalar(select(Service).where(Service.code == service_code))
        for index, persona in enumerate(PERSONAS):
            bill = dbsession.scalar(
                select(Bill).where(
                    Bill.service_id == service.id, Bill.number == f"{bill_prefix}-{persona.id}"
                )
            )
            if bill is None or dbsession.get(UtilityBill, bill.id) is not None:
                continue
            record_utility_bill(dbsession, bill, f"{customer_prefix}{100201 + index}")


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
                    description_translations=translations(description),
                    due_date=today + dt.timedelta(days=30),
                    lines=[
                        BillLineInput(text, Money(amount, "EUR"), translations(text))
                        for text, amount in lines
                    ],
                    payer_user=user,
                    payer_organisation=organisation,
                )


def _issue_overdue_bills(dbsession, today: dt.date) -> None:
    for name_id, code, number, description, amount, overdue in DEMO_OVERDUE:
        service = dbsession.scalar(select(Service).where(Service.code == code))
        if dbsession.scalar(
            select(Bill.id).where(Bill.service_id == service.id, Bill.number == number)
        ):
            continue
        issue_bill(
            dbsession,
            service=service,
            number=number,
            description=description,
            description_translations=translations(description),
            due_date=today - dt.timedelta(days=overdue),
            lines=[BillLineInput(description, Money(amount, "EUR"), translations(description))],
            payer_user=dbsession.scalar(
                select(User).where(User.idp_entity_id == DEV_IDP_ENTITY_ID, User.name_id == name_id)
            ),
        )


def _pay_demo_bills(dbsession, registry, clock) -> None:
    """The demo's payers pay some of their bills at the sandbox (once: a bill already paid
    is left alone), and one of them is refunded."""
    for name_id, numbers in DEMO_SETTLED:
        bills = list(dbsession.scalars(select(Bill).where(Bill.number.in_(numbers))))
        if len(bills) != len(numbers) or any(
            settling_payment(dbsession, bill.id) for bill in bills
        ):
            continue
        user = dbsession.scalar(
            select(User).where(User.idp_entity_id == DEV_IDP_ENTITY_ID, User.name_id == name_id)
        )
        organisation = bills[0].payer_organisation
        demo_payments.pay(
            dbsession, registry, bills, user=user, organisation=organisation, now=clock.now()
        )
    refunded = dbsession.scalar(select(Bill).where(Bill.number == DEMO_REFUNDED))
    if refunded is not None:
        refund_bill(dbsession, refunded, "Demo: a meter read twice, corrected on the next bill.")


def load(dbsession, vault, attribute_map, clock, registry=None) -> None:
    """Create what is missing of the demo world, dated by ``clock``; ``registry`` (the app's)
    syncs the service rows with the registered service plugins first."""
    departments = {}
    for code, name in DEPARTMENTS.items():
        department = dbsession.scalar(select(Department).where(Department.code == code))
        if department is None:
            department = Department(code=code, name=name)
            dbsession.add(department)
        department.name_translations = department.name_translations or translations(name)
        departments[code] = department
    dbsession.flush()
    if registry is not None:
        sync_services(dbsession, registry)
    for code, name, department_code in SERVICES:
        service = dbsession.scalar(select(Service).where(Service.code == code))
        if service is None:
            service = Service(code=code, name=name, department=departments[department_code])
            dbsession.add(service)
        service.name_translations = service.name_translations or translations(name)
    for persona in PERSONAS:
        provision_user(
            dbsession, vault, attribute_map, DEV_IDP_ENTITY_ID, persona.id, persona.attributes()
        )
    dbsession.flush()
    _set_demo_fees(dbsession)
    _issue_demo_bills(dbsession, clock.today())
    _assess_demo_property_tax(dbsession, clock)
    _open_demo_utility_accounts(dbsession)
    _issue_overdue_bills(dbsession, clock.today())
    if registry is not None:
        demo_tenders.load(dbsession, clock, registry)
        _pay_demo_bills(dbsession, registry, clock)
        demo_bank.load(dbsession, registry, clock)
        demo_cases.load(dbsession, clock)
        demo_webhooks.load(dbsession, vault, registry, clock.now())
    dbsession.flush()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config_uri")
    args = parser.parse_args(argv)
    setup_logging(args.config_uri)
    with bootstrap(args.config_uri) as env:
        request = env["request"]
        # the demo's bids and complaint fees are paid at the provider, and the securities it
        # gives back are refunded there once the transaction commits
        with demo_payments.sandbox_serving(request.registry.settings), request.tm:
            load(
                request.dbsession,
                request.pii,
                request.registry["saml"].attributes,
                clock(request.registry),
                request.registry,
            )
    print("demo data loaded")


if __name__ == "__main__":
    main()
