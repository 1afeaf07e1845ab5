"""The demo data command's content: idempotent, and what `make run` shows is really there."""

from sqlalchemy import func, select

from portal.billing.bills import with_status
from portal.billing.models import Bill
from portal.identity.models import Organisation, User
from portal.scripts.demo_data import load


def test_demo_data_is_complete_and_idempotent(wsgi_app, dbsession):
    registry = wsgi_app.registry
    for _ in range(2):
        load(dbsession, registry["pii_vault"], registry["saml"].attributes)
        dbsession.commit()
    assert dbsession.scalar(select(func.count()).select_from(User)) == 8
    assert dbsession.scalar(select(func.count()).select_from(Organisation)) == 2
    bills = dbsession.scalars(select(Bill)).all()
    assert len(bills) == 8 * 5 + 2 * 2  # every persona is also a citizen
    assert {bill.service.code for bill in bills} == {
        "property-tax",
        "water",
        "waste",
        "vehicle-registration",
        "business-licence",
    }
    assert {view.status for view in with_status(dbsession, bills)} == {"open"}
    clara = dbsession.scalar(select(User).where(User.name_id == "clerk-clara"))
    assert [d.code for d in clara.departments] == ["revenue"]
