"""Utility bills: companies upload monthly bills (all or nothing, duplicate numbers refused) or
push them through the API; citizens see their accounts by customer number with their bills."""

import pytest
from sqlalchemy import select

from portal.api.auth import create_api_key
from portal.billing.models import Bill
from portal.catalogue.models import Service
from portal.refusals import Refusal
from portal.services.models import UtilityAccount
from portal.services.utilities import record_utility_bill
from tests import factories
from tests.functional.services.conftest import (
    ANA_NATIONAL_ID,
    BEN_NATIONAL_ID,
    bill_count,
    csv_bytes,
    upload,
)

HEADER = "customer_number,national_id,bill_number,description,due_date,amount,currency"


def water_bills(*rows):
    return csv_bytes(HEADER, *rows)


def accounts(dbsession):
    dbsession.expire_all()
    return {
        (a.service.code, a.customer_number): a.payer_user.name_id
        for a in dbsession.scalars(select(UtilityAccount))
    }


def test_an_upload_opens_accounts_and_issues_the_bills(signed_in, dbsession, ana, ben):
    clerk = signed_in("clerk-clara")
    done = upload(
        clerk,
        "water",
        water_bills(
            f"W-100,{ANA_NATIONAL_ID},W-2610-100,Water supply October 2026,2026-11-15,21.00,EUR",
            f"W-200,{BEN_NATIONAL_ID},W-2610-200,Water supply October 2026,2026-11-15,17.40,EUR",
            # the account is known now: the national id may be left out
            "W-100,,W-2611-100,Water supply November 2026,2026-12-15,19.80,EUR",
        ),
    ).follow()
    assert "Imported 3 rows: 3 bills issued." in done.text
    assert accounts(dbsession) == {
        ("water", "W-100"): "citizen-ana",
        ("water", "W-200"): "citizen-ben",
    }
    november = dbsession.scalar(select(Bill).where(Bill.number == "W-2611-100"))
    assert (november.payer_user_id, november.total_minor) == (ana.id, 19_80)


def test_duplicate_bill_numbers_of_the_company_are_refused_and_nothing_is_imported(
    signed_in, dbsession, ana, ben
):
    clerk = signed_in("clerk-clara")
    upload(
        clerk,
        "water",
        water_bills(f"W-100,{ANA_NATIONAL_ID},W-1,Water September,2026-10-15,20.00,EUR"),
    )
    before = bill_count(dbsession)
    page = upload(
        clerk,
        "water",
        water_bills(
            f"W-200,{BEN_NATIONAL_ID},W-2,Water October,2026-11-15,20.00,EUR",
            f"W-100,{ANA_NATIONAL_ID},W-1,Water October,2026-11-15,20.00,EUR",
            f"W-200,{BEN_NATIONAL_ID},W-2,Water October,2026-11-15,20.00,EUR",
            f"W-100,{BEN_NATIONAL_ID},W-4,Water October,2026-11-15,20.00,EUR",
            "W-300,,W-5,Water October,2026-11-15,0.00,EUR",
        ),
        status=422,
    )
    rows = [
        [cell.text.strip() for cell in row.select("td")]
        for row in page.html.select(".portal-import-report tbody tr")
    ]
    assert rows == [
        ["3", "bill_number", "This bill number was used before."],
        ["4", "bill_number", "The same bill number is on line 2."],
        ["5", "national_id", "This customer number belongs to another person."],
        ["6", "national_id", "This value is required."],
        ["6", "amount", "The amount must be more than zero."],
    ]
    assert bill_count(dbsession) == before
    assert set(accounts(dbsession)) == {("water", "W-100")}  # W-200 was not opened


def test_the_same_number_at_another_company_is_not_a_duplicate(signed_in, dbsession, ana):
    clerk = signed_in("clerk-clara")
    row = f"C-1,{ANA_NATIONAL_ID},2026-10,Monthly bill,2026-11-15,12.90,EUR"
    upload(clerk, "water", water_bills(row))
    upload(clerk, "waste", water_bills(row))
    assert bill_count(dbsession) == 2


def test_a_bill_number_pushed_through_the_api_is_refused_in_an_upload(
    wsgi_app, signed_in, dbsession, ana
):
    water = dbsession.scalar(select(Service).where(Service.code == "water"))
    _, token = create_api_key(dbsession, water, "water company")
    dbsession.commit()
    clerk = signed_in("clerk-clara")
    clerk.post_json(
        "/api/v1/bills",
        {
            "payer": {"national_id": ANA_NATIONAL_ID},
            "number": "W-API-1",
            "description": "Water supply, October 2026",
            "due_date": "2026-11-15",
            "currency": "EUR",
            "lines": [{"description": "Water", "amount": 1250}],
        },
        headers={"Authorization": f"Bearer {token}"},
        status=201,
    )
    page = upload(
        clerk,
        "water",
        water_bills(f"W-100,{ANA_NATIONAL_ID},W-API-1,Water,2026-11-15,12.50,EUR"),
        status=422,
    )
    assert "This bill number was used before." in page.text
    assert bill_count(dbsession) == 1


def test_a_citizen_sees_their_accounts_and_the_bills_of_each(signed_in, dbsession, ana, ben):
    clerk = signed_in("clerk-clara")
    upload(
        clerk,
        "water",
        water_bills(
            f"W-100,{ANA_NATIONAL_ID},W-1,Water supply October 2026,2026-11-15,21.00,EUR",
            f"W-200,{BEN_NATIONAL_ID},W-2,Water supply for Ben,2026-11-15,17.40,EUR",
        ),
    )
    upload(
        clerk,
        "waste",
        water_bills(
            f"G-7,{ANA_NATIONAL_ID},G-1,Waste collection October 2026,2026-11-15,12.90,EUR"
        ),
    )
    # a water bill pushed without a customer number is shown apart
    factories.bill(
        dbsession, ana, amount=9_99, service_code="water", description="Water, meter fix"
    )
    dbsession.commit()

    page = signed_in("citizen-ana").get("/utilities")
    captions = [c.text for c in page.html.select("caption")]
    assert captions == [
        "Waste collection, customer number G-7",
        "Water supply, customer number W-100",
        "Water supply, bills without a customer number",
    ]
    tables = page.html.select("table")
    assert "Waste collection October 2026" in tables[0].text and "€12.90" in tables[0].text
    assert "Water supply October 2026" in tables[1].text and "€21.00" in tables[1].text
    assert "Water, meter fix" in tables[2].text
    assert "W-200" not in page.text and "for Ben" not in page.text
    assert page.html.select("button[name=only]")  # each open bill can be paid from here


def test_an_account_belongs_to_one_person(dbsession, ana, ben):
    water = dbsession.scalar(select(Service).where(Service.code == "water"))
    first = factories.bill(dbsession, ana, service_code="water")
    record_utility_bill(dbsession, first, "W-1")
    other = factories.bill(dbsession, ben, service_code="water")
    with pytest.raises(Refusal, match="belongs to another person"):
        record_utility_bill(dbsession, other, "W-1")
    assert water.id == first.service_id


def test_utilities_need_a_signed_in_person(testapp, services):
    assert "/saml/login" in testapp.get("/utilities", status=303).location
