"""The demo data command's content: idempotent, and what `make run` shows is really there."""

import datetime as dt

from sqlalchemy import func, select

from portal.billing.bills import with_status
from portal.billing.models import Bill
from portal.identity.models import Organisation, User
from portal.scripts.demo_data import DEMO_ASSESSMENT, load
from portal.services.fees import fee_for
from portal.services.models import UtilityAccount, UtilityBill


def test_demo_data_is_complete_and_idempotent(wsgi_app, dbsession):
    registry = wsgi_app.registry
    for _ in range(2):
        load(dbsession, registry["pii_vault"], registry["saml"].attributes, registry)
        dbsession.commit()
    assert dbsession.scalar(select(func.count()).select_from(User)) == 8
    assert dbsession.scalar(select(func.count()).select_from(Organisation)) == 2
    bills = dbsession.scalars(select(Bill)).all()
    # every persona is also a citizen; Ana also has a property tax assessment in 2 instalments
    assert len(bills) == 8 * 5 + 2 * 2 + 2
    name_id, number, total = DEMO_ASSESSMENT
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
    assert dbsession.scalar(select(func.count()).select_from(UtilityAccount)) == 8 * 2
    assert dbsession.scalar(select(func.count()).select_from(UtilityBill)) == 8 * 2
    assert (
        fee_for(dbsession, "vehicle-registration", "passenger-car", dt.date.today()).minor == 45_00
    )
    clara = dbsession.scalar(select(User).where(User.name_id == "clerk-clara"))
    assert [d.code for d in clara.departments] == ["revenue"]
