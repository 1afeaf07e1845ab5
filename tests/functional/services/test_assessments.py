"""A property has one assessment in force a year, whichever way the assessment arrives: a
clerk's upload, ``portal-import-bills`` or ``POST /api/v1/bills``; the database refuses a
second one too. A correction names the one it replaces and cancels its unpaid bills."""

import pytest
from pyramid.scripting import prepare
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.billing import with_status
from portal.billing.models import Bill
from portal.catalogue.models import Service
from portal.db import utcnow
from portal.scripts.services import import_main
from portal.services.models import TaxAssessment, TaxAssessmentBill
from tests.functional.api.conftest import conforms, make_client
from tests.functional.billing.test_bills_page import settle
from tests.functional.services.conftest import ANA_NATIONAL_ID, bill_count, csv_bytes, upload

HEADER = "national_id,assessment_number,property,year,total,currency,instalments,due_dates"
BILLS = "/api/v1/bills"
ALREADY = "Property 1721/45 is already assessed for 2026 (assessment PT-2026-001)."


def assessment_row(number, property_ref="1721/45", year=2026, total="412.60"):
    return f"{ANA_NATIONAL_ID},{number},{property_ref},{year},{total},EUR,2,2026-03-31;2026-09-30"


def report_of(page):
    return [
        [cell.text.strip() for cell in row.select("td")]
        for row in page.html.select(".portal-import-report tbody tr")
    ]


@pytest.fixture
def clerk(signed_in, ana):
    clerk = signed_in("clerk-clara")
    upload(clerk, "property-tax", csv_bytes(HEADER, assessment_row("PT-2026-001")))
    return clerk


@pytest.fixture
def tax_office(wsgi_app, dbsession, services):
    return make_client(wsgi_app, dbsession, "property-tax")


def instalment(number="PT-API-1", bill_number=None, property_ref="1721/45", year=2026):
    return {
        "payer": {"national_id": ANA_NATIONAL_ID},
        "number": bill_number or f"{number}-1",
        "description": f"Property tax {year}",
        "due_date": f"{year}-03-31",
        "currency": "EUR",
        "lines": [{"description": "Property tax", "amount": 206_30}],
        "assessment": {"number": number, "property": property_ref, "year": year},
    }


def test_a_second_assessment_of_a_property_for_a_year_is_refused_in_a_file(clerk, dbsession):
    before = bill_count(dbsession)
    page = upload(
        clerk,
        "property-tax",
        csv_bytes(
            HEADER,
            assessment_row("PT-2027-001", year=2027),  # the next year: fine alone
            assessment_row("PT-2026-009"),  # line 3: same property, same year
            assessment_row("PT-2026-010", property_ref="1721/46"),  # another property: fine
            assessment_row("PT-2026-011", property_ref="1721/46"),  # line 5: same as line 4
        ),
        status=422,
    )
    assert report_of(page) == [
        [
            "3",
            "property",
            f"{ALREADY} To replace it, send the new one as its correction: PT-2026-001 under "
            "corrects.",
        ],
        ["5", "property", "The same property is assessed for the same year on line 4."],
    ]
    assert bill_count(dbsession) == before
    dbsession.expire_all()
    assert [a.number for a in dbsession.scalars(select(TaxAssessment))] == ["PT-2026-001"]


def test_each_instalment_of_an_imported_assessment_is_linked_to_it(clerk, dbsession):
    (assessment,) = dbsession.scalars(select(TaxAssessment))
    assert (assessment.property_ref, assessment.year) == ("1721/45", 2026)
    links = dbsession.scalars(
        select(TaxAssessmentBill).where(TaxAssessmentBill.assessment_id == assessment.id)
    ).all()
    assert len(links) == 2


def test_the_console_script_refuses_it_too(
    clerk, wsgi_app, dbsession, tmp_path, monkeypatch, capsys
):
    import portal.scripts.services as script

    monkeypatch.setattr(script, "bootstrap", lambda uri: prepare(registry=wsgi_app.registry))
    monkeypatch.setattr(script, "setup_logging", lambda uri: None)
    before = bill_count(dbsession)
    again = tmp_path / "again.csv"
    again.write_bytes(csv_bytes(HEADER, assessment_row("PT-2026-777", total="100.00")))
    assert import_main(["test.ini", "property-tax", str(again)]) == 1
    assert f"line 2, property: {ALREADY}" in capsys.readouterr().out
    assert bill_count(dbsession) == before


def test_the_api_takes_an_assessment_instalment_by_instalment(tax_office, ana, dbsession):
    first = tax_office.post(BILLS, instalment(), status=201)
    conforms(first, BILLS, "post")
    second = instalment(bill_number="PT-API-1-2")
    tax_office.post(BILLS, second, status=201)
    (assessment,) = dbsession.scalars(select(TaxAssessment))
    assert assessment.number == "PT-API-1"
    dbsession.expire_all()
    links = dbsession.scalars(select(TaxAssessmentBill)).all()
    assert {link.assessment_id for link in links} == {assessment.id} and len(links) == 2


def test_the_api_refuses_another_assessment_of_an_assessed_property(clerk, tax_office, dbsession):
    before = bill_count(dbsession)
    refused = tax_office.post(BILLS, instalment("PT-API-2"), status=409)
    body = conforms(refused, BILLS, "post")
    assert body["title"] == "Assessment refused"
    assert ALREADY in body["detail"]
    assert bill_count(dbsession) == before
    dbsession.expire_all()
    assert [a.number for a in dbsession.scalars(select(TaxAssessment))] == ["PT-2026-001"]


def test_an_assessment_sent_by_the_api_stops_a_file_assessing_the_property_again(
    tax_office, clerk, dbsession
):
    """The rule runs both ways: an assessment the API recorded refuses a file's."""
    tax_office.post(BILLS, instalment("PT-API-3", property_ref="9999/1"), status=201)
    page = upload(
        clerk,
        "property-tax",
        csv_bytes(HEADER, assessment_row("PT-2026-050", property_ref="9999/1")),
        status=422,
    )
    assert "Property 9999/1 is already assessed for 2026 (assessment PT-API-3)." in page.text


def test_an_instalment_naming_a_known_assessment_of_another_property_is_refused(
    tax_office, ana, dbsession
):
    tax_office.post(BILLS, instalment(), status=201)
    other = instalment(bill_number="PT-API-1-2", property_ref="1721/99")
    body = tax_office.post(BILLS, other, status=409).json
    assert body["detail"] == "Assessment PT-API-1 is of another property or year."


@pytest.mark.parametrize(
    ("assessment", "pointer"),
    [
        ({"number": "A-1", "property": "1721/45", "year": "2026"}, "#/assessment/year"),
        ({"number": "A-1", "property": "1721/45", "year": 1999}, "#/assessment/year"),
        ({"number": "A-1", "property": "", "year": 2026}, "#/assessment/property"),
        ({"number": "A-1", "year": 2026}, "#/assessment/property"),
        ({"number": "A-1", "property": "1", "year": 2026, "owner": "x"}, "#/assessment/owner"),
        ("A-1", "#/assessment"),
    ],
)
def test_a_malformed_assessment_is_refused_422(tax_office, ana, dbsession, assessment, pointer):
    body = tax_office.post(BILLS, {**instalment(), "assessment": assessment}, status=422).json
    assert pointer in [error["pointer"] for error in body["errors"]]
    assert bill_count(dbsession) == 0


def test_only_a_tax_service_takes_assessments(wsgi_app, dbsession, services, ana):
    water = make_client(wsgi_app, dbsession, "water")
    body = water.post(BILLS, instalment(), status=422).json
    assert body["errors"] == [{"pointer": "#/assessment", "detail": "is not taken by this service"}]
    assert bill_count(dbsession) == 0


def test_the_database_refuses_a_second_assessment_in_force(dbsession, services):
    service = dbsession.scalar(select(Service).where(Service.code == "property-tax"))
    first = TaxAssessment(service_id=service.id, number="A", property_ref="P", year=2026)
    dbsession.add(first)
    dbsession.flush()
    dbsession.add(TaxAssessment(service_id=service.id, number="B", property_ref="P", year=2026))
    with pytest.raises(IntegrityError):
        dbsession.flush()
    dbsession.rollback()


def test_the_database_takes_a_correction_once_the_old_one_is_out_of_force(dbsession, services):
    service = dbsession.scalar(select(Service).where(Service.code == "property-tax"))
    first = TaxAssessment(service_id=service.id, number="A", property_ref="P", year=2026)
    dbsession.add(first)
    dbsession.flush()
    first.corrected_at = utcnow()
    dbsession.flush()
    dbsession.add(
        TaxAssessment(
            service_id=service.id, number="B", property_ref="P", year=2026, corrects_id=first.id
        )
    )
    dbsession.flush()
    dbsession.rollback()


CORRECTING = HEADER + ",corrects"


def statuses(dbsession, prefix):
    dbsession.expire_all()
    bills = dbsession.scalars(
        select(Bill).where(Bill.number.startswith(prefix)).order_by(Bill.number)
    ).all()
    return [view.status for view in with_status(dbsession, bills)]


def test_a_correction_replaces_the_assessment_and_cancels_its_bills(clerk, dbsession):
    done = upload(
        clerk,
        "property-tax",
        csv_bytes(CORRECTING, assessment_row("PT-2026-001C", total="380.00") + ",PT-2026-001"),
    )
    assert "Imported 1 rows: 2 bills issued." in done.follow().text
    assert statuses(dbsession, "PT-2026-001-") == ["cancelled", "cancelled"]
    assert statuses(dbsession, "PT-2026-001C-") == ["open", "open"]
    old, new = dbsession.scalars(select(TaxAssessment).order_by(TaxAssessment.id)).all()
    assert old.corrected_at is not None and new.corrects_id == old.id
    # the correction is now the one in force: another plain assessment is refused
    again = upload(
        clerk, "property-tax", csv_bytes(HEADER, assessment_row("PT-2026-002")), status=422
    )
    assert "is already assessed for 2026 (assessment PT-2026-001C)" in again.text


@pytest.mark.parametrize(
    ("corrects", "says"),
    [
        ("PT-9999", "Assessment PT-9999 is not the one in force for property 1721/45 in 2026"),
        ("PT-2026-001 x", "Use letters, digits and . _ / - only"),
    ],
)
def test_a_correction_must_name_the_assessment_in_force(clerk, dbsession, corrects, says):
    page = upload(
        clerk,
        "property-tax",
        csv_bytes(CORRECTING, assessment_row("PT-2026-001C") + f",{corrects}"),
        status=422,
    )
    assert says in page.text
    assert statuses(dbsession, "PT-2026-001-") == ["open", "open"]


def test_an_assessment_with_a_payment_on_it_is_not_corrected(clerk, dbsession):
    first = dbsession.scalars(select(Bill).where(Bill.number == "PT-2026-001-1")).one()
    settle(dbsession, first, first.total_minor)
    dbsession.commit()
    page = upload(
        clerk,
        "property-tax",
        csv_bytes(CORRECTING, assessment_row("PT-2026-001C") + ",PT-2026-001"),
        status=422,
    )
    assert "Part of assessment PT-2026-001 is paid" in page.text
    assert statuses(dbsession, "PT-2026-001-") == ["paid", "open"]


def test_the_api_sends_a_correction_with_its_first_instalment(clerk, tax_office, dbsession):
    body = instalment("PT-API-C", bill_number="PT-API-C-1")
    body["assessment"]["corrects"] = "PT-2026-001"
    tax_office.post(BILLS, body, status=201)
    assert statuses(dbsession, "PT-2026-001-") == ["cancelled", "cancelled"]
    tax_office.post(BILLS, instalment("PT-API-C", bill_number="PT-API-C-2"), status=201)
    assert statuses(dbsession, "PT-API-C-") == ["open", "open"]
