"""The demo data command's content: idempotent, and what `make run` shows is really there."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from portal.billing import with_status
from portal.billing.models import Bill
from portal.catalogue.models import Service
from portal.clock import clock as app_clock
from portal.devidp.personas import PERSONAS
from portal.identity.models import Organisation, User
from portal.refusals import Refusal
from portal.scripts.demo_data import DEMO_ASSESSMENT, load
from portal.services.assessments import record_assessment
from portal.services.fees import fee_for
from portal.services.models import TaxAssessment, UtilityAccount, UtilityBill


def test_demo_data_is_complete_and_idempotent(wsgi_app, dbsession):
    registry = wsgi_app.registry
    for _ in range(2):
        load(
            dbsession,
            registry["pii_vault"],
            registry["saml"].attributes,
            app_clock(registry),
            registry,
        )
        dbsession.commit()
    assert dbsession.scalar(select(func.count()).select_from(User)) == len(PERSONAS)
    assert dbsession.scalar(select(func.count()).select_from(Organisation)) == 2
    bills = dbsession.scalars(select(Bill)).all()
    # every persona is also a citizen: 3 bills and a property tax assessment in 2 instalments
    people = len(PERSONAS)
    assert len(bills) == people * 3 + people * 2 + 2 * 2
    name_id, number, _property, total = DEMO_ASSESSMENT
    instalments = [bill for bill in bills if bill.number.startswith(number)]
    assert sum(bill.total_minor for bill in instalments) == total
    assert {bill.payer_user.name_id for bill in instalments} == {name_id}
    assert {bill.service.code for bill in bills} == {
        "property-tax",
        "water",
        "waste",
        "vehicle-registration",
        "business-licence",
    }
    assert {view.status for view in with_status(dbsession, bills)} == {"open"}
    assert dbsession.scalar(select(func.count()).select_from(UtilityAccount)) == people * 2
    assert dbsession.scalar(select(func.count()).select_from(UtilityBill)) == people * 2
    assert (
        fee_for(dbsession, "vehicle-registration", "passenger-car", dt.date.today()).minor == 45_00
    )
    clara = dbsession.scalar(select(User).where(User.name_id == "clerk-clara"))
    assert [d.code for d in clara.departments] == ["revenue"]


def test_ana_has_one_set_of_property_tax_bills_for_the_year(wsgi_app, dbsession):
    """The demo once gave her two overlapping 2026 sets (184.50 x 2 and 206.30 x 2)."""
    registry = wsgi_app.registry
    load(
        dbsession,
        registry["pii_vault"],
        registry["saml"].attributes,
        app_clock(registry),
        registry,
    )
    dbsession.commit()
    ana = dbsession.scalar(select(User).where(User.name_id == "citizen-ana"))
    tax = dbsession.scalars(
        select(Bill)
        .join(Service, Bill.service_id == Service.id)
        .where(Service.code == "property-tax", Bill.payer_user_id == ana.id)
        .order_by(Bill.due_date)
    ).all()
    assert [bill.total_minor for bill in tax] == [206_30, 206_30]
    year = dt.date.today().year
    assert dbsession.scalar(select(func.count()).select_from(TaxAssessment)) == len(PERSONAS)
    service = tax[0].service
    with pytest.raises(Refusal, match="already assessed"):
        record_assessment(
            dbsession,
            service,
            "PT-ANA-AGAIN",
            DEMO_ASSESSMENT[2],
            year,
            now=app_clock(registry).now(),
        )
