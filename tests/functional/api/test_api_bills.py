"""A service issues, reads and cancels its bills; bad input is refused with the right 4xx
problem and changes nothing."""

import logging

import pytest
from sqlalchemy import select

from portal.billing.models import Bill
from tests import factories
from tests.functional.api.conftest import ANA_NATIONAL_ID, bill_count, conforms, new_bill

BILLS = "/api/v1/bills"
BILL = "/api/v1/bills/{public_id}"
CANCEL = "/api/v1/bills/{public_id}/cancel"
PAYMENTS = "/api/v1/bills/{public_id}/payments"


def test_issuing_a_bill_to_a_person_by_national_id(water, ana, dbsession, caplog):
    caplog.set_level(logging.DEBUG)
    response = water.post(BILLS, new_bill(), status=201)
    body = conforms(response, BILLS, "post")
    assert response.location.endswith(f"/api/v1/bills/{body['public_id']}")
    assert body["status"] == "open"
    assert (body["total"], body["outstanding"], body["currency"]) == (1550, 1550, "EUR")
    assert body["reference"].startswith("RF")
    assert body["payer"] == {"type": "person"}
    assert body["service"]["code"] == "water"
    assert [line["amount"] for line in body["lines"]] == [1250, 300]
    assert ANA_NATIONAL_ID not in response.text
    assert ANA_NATIONAL_ID not in caplog.text

    bill = dbsession.scalar(select(Bill).where(Bill.public_id == body["public_id"]))
    assert bill.payer_user_id == ana.id and bill.service_id == water.service.id
    assert (bill.number, bill.total_minor, bill.due_date.isoformat()) == (
        "W-2026-0001",
        1550,
        "2026-12-15",
    )


def test_issuing_a_bill_to_an_organisation(water, northwind, dbsession):
    response = water.post(BILLS, new_bill(payer={"organisation_number": "NW-100200"}), status=201)
    body = conforms(response, BILLS, "post")
    assert body["payer"] == {
        "type": "organisation",
        "organisation_number": "NW-100200",
        "name": "Northwind Supplies Ltd",
    }
    bill = dbsession.scalar(select(Bill).where(Bill.public_id == body["public_id"]))
    assert bill.payer_organisation_id == northwind.id and bill.payer_user_id is None


def test_reading_a_bill(water, ana):
    created = water.post(BILLS, new_bill(), status=201).json
    read = conforms(water.get(f"{BILLS}/{created['public_id']}"), BILL)
    assert read == created


def test_cancelling_a_bill(water, ana, dbsession):
    public_id = water.post(BILLS, new_bill(), status=201).json["public_id"]
    response = water.post(f"{BILLS}/{public_id}/cancel", {"reason": "Meter misread"})
    body = conforms(response, CANCEL, "post")
    assert (body["status"], body["outstanding"], body["cancel_reason"]) == (
        "cancelled",
        0,
        "Meter misread",
    )
    assert water.get(f"{BILLS}/{public_id}").json["status"] == "cancelled"
    bill = dbsession.scalar(select(Bill).where(Bill.public_id == public_id))
    assert bill.cancelled_at is not None

    again = water.post(f"{BILLS}/{public_id}/cancel", {"reason": "twice"}, status=409)
    conforms(again, CANCEL, "post")
    dbsession.expire_all()
    assert dbsession.get(Bill, bill.id).cancel_reason == "Meter misread"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "#/reason"),
        ({"reason": ""}, "#/reason"),
        ({"reason": 42}, "#/reason"),
        ({"reason": "x" * 301}, "#/reason"),
        ({"reason": "ok", "force": True}, "#/force"),
    ],
)
def test_a_cancellation_needs_a_reason(water, ana, dbsession, body, pointer):
    public_id = water.post(BILLS, new_bill(), status=201).json["public_id"]
    response = water.post(f"{BILLS}/{public_id}/cancel", body, status=422)
    conforms(response, CANCEL, "post")
    assert pointer in [error["pointer"] for error in response.json["errors"]]
    assert water.get(f"{BILLS}/{public_id}").json["status"] == "open"


def test_payments_covering_a_bill(water, ana, dbsession):
    public_id = water.post(BILLS, new_bill(), status=201).json["public_id"]
    empty = conforms(water.get(f"{BILLS}/{public_id}/payments"), PAYMENTS)
    assert empty == {"bill": public_id, "payments": []}

    bill = dbsession.scalar(select(Bill).where(Bill.public_id == public_id))
    other = factories.bill(dbsession, ana, amount=500, service_code="water")
    payment = factories.payment(dbsession, ana, [bill, other])
    dbsession.commit()
    body = conforms(water.get(f"{BILLS}/{public_id}/payments"), PAYMENTS)
    [listed] = body["payments"]
    assert listed["public_id"] == payment.public_id
    assert (listed["status"], listed["amount"], listed["refunded"]) == ("created", 1550, 0)


def test_a_duplicate_number_for_the_same_service_is_a_conflict(water, tax_office, ana, dbsession):
    water.post(BILLS, new_bill(), status=201)
    response = water.post(BILLS, new_bill(description="again"), status=409)
    conforms(response, BILLS, "post")
    assert bill_count(dbsession) == 1
    tax_office.post(BILLS, new_bill(), status=201)
    assert bill_count(dbsession) == 2


def lines(*amounts):
    return [{"description": "Line", "amount": amount} for amount in amounts]


BAD_BILLS = {
    "amount-float": ({"lines": lines(12.5)}, "#/lines/0/amount"),
    "amount-whole-float": ({"lines": lines(1250.0)}, "#/lines/0/amount"),
    "amount-string": ({"lines": lines("1250")}, "#/lines/0/amount"),
    "amount-bool": ({"lines": lines(True)}, "#/lines/0/amount"),
    "amount-null": ({"lines": lines(None)}, "#/lines/0/amount"),
    "amount-zero": ({"lines": lines(1250, 0)}, "#/lines/1/amount"),
    "amount-negative": ({"lines": lines(-100)}, "#/lines/0/amount"),
    "amount-huge": ({"lines": lines(10**40)}, "#/lines/0/amount"),
    "total-huge": ({"lines": lines(10**12, 10**12)}, "#/lines"),
    "no-lines": ({"lines": []}, "#/lines"),
    "too-many-lines": ({"lines": lines(*[1] * 101)}, "#/lines"),
    "lines-not-array": ({"lines": {"amount": 1}}, "#/lines"),
    "line-not-object": ({"lines": [1250]}, "#/lines/0"),
    "line-unknown-field": (
        {"lines": [{"description": "x", "amount": 1, "vat": 2}]},
        "#/lines/0/vat",
    ),
    "line-no-description": ({"lines": [{"amount": 1}]}, "#/lines/0/description"),
    "currency-unknown": ({"currency": "XYZ"}, "#/currency"),
    "currency-lowercase": ({"currency": "eur"}, "#/currency"),
    "currency-missing": ({"currency": None}, "#/currency"),
    "date-format": ({"due_date": "15.12.2026"}, "#/due_date"),
    "date-impossible": ({"due_date": "2026-02-30"}, "#/due_date"),
    "date-compact": ({"due_date": "20261215"}, "#/due_date"),
    "date-number": ({"due_date": 20261215}, "#/due_date"),
    "number-missing": ({"number": None}, "#/number"),
    "number-blank": ({"number": "   "}, "#/number"),
    "number-too-long": ({"number": "N" * 65}, "#/number"),
    "description-too-long": ({"description": "d" * 301}, "#/description"),
    "description-control": ({"description": "a\x00b"}, "#/description"),
    "payer-missing": ({"payer": None}, "#/payer"),
    "payer-string": ({"payer": ANA_NATIONAL_ID}, "#/payer"),
    "payer-empty": ({"payer": {}}, "#/payer"),
    "payer-both": (
        {"payer": {"national_id": ANA_NATIONAL_ID, "organisation_number": "NW-100200"}},
        "#/payer",
    ),
    "payer-unknown-field": ({"payer": {"email": "ana@example.org"}}, "#/payer/email"),
    "payer-id-not-string": ({"payer": {"national_id": 19800101}}, "#/payer/national_id"),
    "unknown-field": ({"amount": 1550}, "#/amount"),
}


@pytest.mark.parametrize(("changes", "pointer"), BAD_BILLS.values(), ids=BAD_BILLS.keys())
def test_bad_input_is_refused_field_by_field_and_nothing_is_created(
    water, ana, dbsession, changes, pointer
):
    body = {key: value for key, value in new_bill(**changes).items() if value is not None}
    response = water.post(BILLS, body, status=422)
    conforms(response, BILLS, "post")
    assert pointer in [error["pointer"] for error in response.json["errors"]]
    assert ANA_NATIONAL_ID not in response.text
    assert bill_count(dbsession) == 0


def test_every_wrong_field_is_reported_at_once(water, ana):
    body = new_bill(currency="XYZ", due_date="soon", lines=lines("1"))
    errors = water.post(BILLS, body, status=422).json["errors"]
    assert {error["pointer"] for error in errors} == {
        "#/currency",
        "#/due_date",
        "#/lines/0/amount",
    }


@pytest.mark.parametrize(
    ("payer", "pointer"),
    [
        ({"national_id": "19991231-0000"}, "#/payer/national_id"),
        ({"organisation_number": "NO-SUCH"}, "#/payer/organisation_number"),
    ],
)
def test_an_unknown_payer_is_refused_without_echoing_the_identifier(
    water, ana, northwind, dbsession, caplog, payer, pointer
):
    caplog.set_level(logging.DEBUG)
    response = water.post(BILLS, new_bill(payer=payer), status=422)
    conforms(response, BILLS, "post")
    assert response.json["title"] == "Unknown payer"
    assert [error["pointer"] for error in response.json["errors"]] == [pointer]
    assert "19991231-0000" not in response.text and "19991231-0000" not in caplog.text
    assert bill_count(dbsession) == 0


def send(water, body: bytes, content_type="application/json", path=BILLS):
    return water.app.post(
        path,
        body,
        headers={**water.headers, "Content-Type": content_type},
        expect_errors=True,
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"number": ', "application/json", 400),
        (b"\xff\xfe not utf-8", "application/json", 400),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 413),
        (b"[" * 20_000 + b"]" * 20_000, "application/json", 400),
        (b"[]", "application/json", 422),
        (b'"a string"', "application/json", 422),
        (b"number=1", "application/x-www-form-urlencoded", 415),
        (b"", "application/json", 400),
        (b'{"description": "' + b"x" * 70_000 + b'"}', "application/json", 413),
        # half a surrogate pair, which no database can store: PostgreSQL and SQLite failed
        (b'{"description": "a\\ud800b"}', "application/json", 400),
        (b'{"number": "B-1", "\\udfff": 1}', "application/json", 400),
    ],
    ids=[
        "truncated",
        "not-utf8",
        "too-large-nesting",
        "deep-nesting",
        "array",
        "string",
        "form",
        "empty",
        "too-large",
        "lone-surrogate",
        "lone-surrogate-name",
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    water, ana, dbsession, body, content_type, status
):
    response = send(water, body, content_type)
    assert response.status_int == status
    conforms(response, BILLS, "post")
    assert bill_count(dbsession) == 0


def test_cancel_refuses_a_body_that_is_not_json(water, ana):
    public_id = water.post(BILLS, new_bill(), status=201).json["public_id"]
    path = f"{BILLS}/{public_id}/cancel"
    assert send(water, b"reason=x", "text/plain", path).status_int == 415
    assert send(water, b"{", "application/json", path).status_int == 400
    assert water.get(f"{BILLS}/{public_id}").json["status"] == "open"


def test_other_methods_are_not_found_not_errors(water):
    for response in (
        water.app.get(BILLS, headers=water.headers, expect_errors=True),
        water.app.delete(f"{BILLS}/{'0' * 32}", headers=water.headers, expect_errors=True),
    ):
        assert response.status_int in (404, 405)
        assert response.content_type == "application/problem+json"
