"""A signed-in payer reads their own bills and payments through the API, and only theirs."""

import pytest
from sqlalchemy import select

from portal.identity.models import Organisation, User
from tests import factories
from tests.functional.api.conftest import conforms, new_bill

MY_BILLS = "/api/v1/me/bills"
MY_PAYMENTS = "/api/v1/me/payments"


@pytest.mark.parametrize("path", [MY_BILLS, MY_PAYMENTS])
def test_anonymous_payer_gets_a_401_problem(testapp, path):
    response = testapp.get(path, status=401)
    conforms(response, path)
    assert response.json["title"] == "Sign-in required"


@pytest.mark.parametrize("path", [MY_BILLS, MY_PAYMENTS])
def test_a_service_key_is_not_a_payer(water, path):
    conforms(water.get(path, status=401), path)


def test_a_bill_issued_by_national_id_reaches_the_payer_who_signed_in(signed_in, water, dbsession):
    """Ana's account, made by her sign-in, is found by the national id the service sends."""
    app = signed_in("citizen-ana")
    public_id = water.post("/api/v1/bills", new_bill(), status=201).json["public_id"]
    body = conforms(app.get(MY_BILLS), MY_BILLS)
    assert [bill["public_id"] for bill in body["bills"]] == [public_id]
    assert body["bills"][0]["status"] == "open" and body["bills"][0]["outstanding"] == 1550
    assert "19800101-1234" not in app.get(MY_BILLS).text


def test_payer_sees_only_their_own_bills(signed_in, dbsession):
    app = signed_in("citizen-ana")
    ana = dbsession.scalar(select(User).where(User.name_id == "citizen-ana"))
    ben = factories.user(dbsession, name_id="citizen-ben")
    mine = factories.bill(dbsession, ana, amount=120_00)
    factories.bill(dbsession, ben, amount=99_00)
    dbsession.commit()
    body = conforms(app.get(MY_BILLS), MY_BILLS)
    assert [bill["public_id"] for bill in body["bills"]] == [mine.public_id]


def test_representative_sees_the_organisations_bills(signed_in, dbsession):
    app = signed_in("rep-olga")
    northwind = dbsession.scalar(
        select(Organisation).where(Organisation.registration_number == "NW-100200")
    )
    bill = factories.bill(dbsession, organisation=northwind, amount=500_00)
    dbsession.commit()
    body = conforms(app.get(MY_BILLS), MY_BILLS)
    [listed] = body["bills"]
    assert listed["public_id"] == bill.public_id
    assert listed["payer"]["organisation_number"] == "NW-100200"


def test_payer_reads_their_payments(signed_in, dbsession):
    app = signed_in("citizen-ana")
    assert conforms(app.get(MY_PAYMENTS), MY_PAYMENTS) == {"payments": []}
    ana = dbsession.scalar(select(User).where(User.name_id == "citizen-ana"))
    ben = factories.user(dbsession, name_id="citizen-ben")
    bill = factories.bill(dbsession, ana, amount=42_00)
    payment = factories.payment(dbsession, ana, [bill])
    factories.payment(dbsession, ben, [factories.bill(dbsession, ben)])
    dbsession.commit()
    body = conforms(app.get(MY_PAYMENTS), MY_PAYMENTS)
    [listed] = body["payments"]
    assert (listed["public_id"], listed["status"], listed["amount"]) == (
        payment.public_id,
        "created",
        42_00,
    )
    assert listed["bills"] == [
        {"public_id": bill.public_id, "reference": bill.reference, "amount": 42_00}
    ]
