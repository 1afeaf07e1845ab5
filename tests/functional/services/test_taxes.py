"""Property tax: the tax office imports assessments (all or nothing, with a report), citizens
see late interest before paying and pay one instalment, several or the whole year, and the
interest is posted with the payment."""

import datetime as dt

import pytest
from pyramid.scripting import prepare
from sqlalchemy import select

from portal.billing import with_status
from portal.billing.ledger import account_balance
from portal.billing.models import Bill, Payment
from portal.scripts.services import import_main
from portal.services.models import LateInterestCharge
from tests import factories
from tests.error_summary import assert_error_summary
from tests.functional.billing.conftest import Payer, deliver, notifications_for
from tests.functional.services.conftest import (
    ANA_NATIONAL_ID,
    BEN_NATIONAL_ID,
    bill_count,
    csv_bytes,
    days_ago,
    today,
    upload,
)
from tests.sandbox.conftest import SUCCESS

HEADER = "national_id,assessment_number,property,year,total,currency,instalments,due_dates"


def bills_of(dbsession, prefix):
    dbsession.expire_all()
    return list(
        dbsession.scalars(select(Bill).where(Bill.number.startswith(prefix)).order_by(Bill.number))
    )


def test_an_assessment_becomes_one_bill_per_instalment(signed_in, dbsession, ana, ben):
    clerk = signed_in("clerk-clara")
    data = csv_bytes(
        HEADER,
        f"{ANA_NATIONAL_ID},PT-2026-001,K2026-001,2026,412.61,EUR,2,2026-03-31;2026-09-30",
        f"{BEN_NATIONAL_ID},PT-2026-002,K2026-002,2026,100.00,EUR,1,2026-05-31",
    )
    done = upload(clerk, "property-tax", data).follow()
    assert "Imported 2 rows: 3 bills issued." in done.text

    first, second = bills_of(dbsession, "PT-2026-001")
    assert [b.description for b in (first, second)] == [
        "Property tax 2026, instalment 1 of 2",
        "Property tax 2026, instalment 2 of 2",
    ]
    # 412.61 in two: the cent that does not divide goes to the first instalment
    assert [(b.total_minor, b.due_date) for b in (first, second)] == [
        (206_31, dt.date(2026, 3, 31)),
        (206_30, dt.date(2026, 9, 30)),
    ]
    assert {b.payer_user_id for b in (first, second)} == {ana.id}
    assert {v.status for v in with_status(dbsession, [first, second])} == {"open"}
    (single,) = bills_of(dbsession, "PT-2026-002")
    assert (single.payer_user_id, single.total_minor) == (ben.id, 100_00)


def test_a_file_with_bad_rows_imports_nothing_and_names_each_bad_row(
    signed_in, dbsession, ana, ben
):
    clerk = signed_in("clerk-clara")
    upload(
        clerk,
        "property-tax",
        csv_bytes(HEADER, f"{BEN_NATIONAL_ID},OLD-1,K-OLD-1,2025,50.00,EUR,1,2025-06-30"),
    )
    before = bill_count(dbsession)
    data = csv_bytes(
        HEADER,
        f"{ANA_NATIONAL_ID},PT-1,K1,2026,412.60,EUR,2,2026-03-31;2026-09-30",  # good
        "99999999-0000,PT-2,K2,2026,100.00,EUR,1,2026-03-31",  # line 3: unknown payer
        f"{ANA_NATIONAL_ID},PT-3,K3,2026,12.5x,EUR,1,2026-03-31",  # line 4: amount
        f"{ANA_NATIONAL_ID},PT-4,K4,2026,100.00,EUR,2,2026-03-31",  # line 5: dates vs instalments
        f"{ANA_NATIONAL_ID},PT-1,K1,2026,100.00,EUR,1,2026-03-31",  # line 6: duplicate in file
        f"{ANA_NATIONAL_ID},PT-7,K7,2026,100.00,EUR,2,2026-09-30;2026-03-31",  # line 7: order
        f"{BEN_NATIONAL_ID},OLD-1,K-OLD-1,2025,50.00,EUR,1,2025-06-30",  # line 8: imported before
        f"{ANA_NATIONAL_ID},PT-9,K9,1900,100.00,XXX,1,2026-13-01",  # line 9: three problems
    )
    page = upload(clerk, "property-tax", data, status=422)
    assert "Nothing was imported" in page.text
    rows = [
        [cell.text.strip() for cell in row.select("td")]
        for row in page.html.select(".portal-import-report tbody tr")
    ]
    assert rows == [
        ["3", "national_id", "No person with this national identifier is known to the portal."],
        ["4", "total", "Write the amount as a number such as 184.50."],
        ["5", "due_dates", "Give one due date per instalment: 2 dates separated by ;."],
        ["6", "assessment_number", "The same assessment is on line 2."],
        ["7", "due_dates", "The due dates must follow each other in order."],
        ["8", "assessment_number", "This assessment was imported before."],
        ["9", "year", "A whole number from 2000 to 2100."],
        ["9", "currency", "Use one of CHF, CZK, DKK, EUR, GBP, HUF, JPY, NOK, PLN, SEK, USD."],
        ["9", "due_dates", "Write dates as YYYY-MM-DD."],
    ]
    assert "99999999-0000" not in page.text  # the report never repeats a national id
    assert_error_summary(page, ["file"])  # the file is what to correct; the report says how
    assert bill_count(dbsession) == before


def test_an_instalment_numbered_as_another_bill_of_the_service_is_named_in_the_report(
    signed_in, dbsession, ana
):
    """A bill sent through the API may hold the number of a later instalment: the report
    says so (the database's unique key answered 409 "try again" for ever)."""
    other = factories.bill(dbsession, ana)
    other.number = "PT-9-2"
    dbsession.commit()
    before = bill_count(dbsession)
    data = csv_bytes(HEADER, f"{ANA_NATIONAL_ID},PT-9,K9,2026,100.00,EUR,2,2026-03-31;2026-09-30")
    page = upload(signed_in("clerk-clara"), "property-tax", data, status=422)
    rows = [
        [cell.text.strip() for cell in row.select("td")]
        for row in page.html.select(".portal-import-report tbody tr")
    ]
    assert rows == [["2", "assessment_number", "Another bill of this service is numbered PT-9-2."]]
    assert bill_count(dbsession) == before


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "The file is empty."),
        (b"\xff\xfe\x00garbage", "Save the file as UTF-8 text (CSV)."),
        (csv_bytes("national_id,year"), "The column assessment_number is missing."),
        (csv_bytes(HEADER), "The file has no rows to import."),
        (
            csv_bytes(HEADER, f"{ANA_NATIONAL_ID},PT-1,2026"),
            "The row has 3 values; the header has 8.",
        ),
    ],
)
def test_a_malformed_file_is_refused_whole(signed_in, dbsession, ana, data, problem):
    clerk = signed_in("clerk-clara")
    page = upload(clerk, "property-tax", data, status=422)
    assert problem in page.text
    assert_error_summary(page, ["file"])
    assert bill_count(dbsession) == 0


def test_an_import_sent_without_a_file_or_a_service_shows_the_form_again(signed_in, dbsession, ana):
    """The summary links to the field left out, which says what it needs."""
    form = signed_in("clerk-clara").get("/backoffice/imports").forms["import-form"]
    page = form.submit(status=422)
    assert_error_summary(page, ["file"])
    assert "Choose a CSV file to upload." in page.html.find(id="file-error").text
    form = page.forms["import-form"]
    form["service"].force_value("")
    form["file"] = ("bills.csv", csv_bytes(HEADER), "text/csv")
    page = form.submit(status=422)
    assert_error_summary(page, ["service"])
    assert "Choose a service." in page.html.find(id="form-errors").text
    assert page.html.find(class_="portal-import-report") is None
    assert bill_count(dbsession) == 0


@pytest.mark.parametrize("persona", ["citizen-ana", "clerk-dan"])
def test_only_the_revenue_office_imports_tax_assessments(signed_in, persona, services):
    signed_in(persona).get("/backoffice/imports", status=403)


def test_the_console_script_imports_all_or_nothing(
    wsgi_app, dbsession, ana, tmp_path, monkeypatch, capsys
):
    """``portal-import-bills INI property-tax FILE``: exit 1 and a report on a bad file."""
    import portal.scripts.services as script

    monkeypatch.setattr(script, "bootstrap", lambda uri: prepare(registry=wsgi_app.registry))
    monkeypatch.setattr(script, "setup_logging", lambda uri: None)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(HEADER, f"{ANA_NATIONAL_ID},PT-1,K1,2026,10.00,EUR,3,2026-03-31"))
    assert import_main(["test.ini", "property-tax", str(bad)]) == 1
    assert "line 2, due_dates: Give one due date per instalment" in capsys.readouterr().out
    assert bill_count(dbsession) == 0

    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(HEADER, f"{ANA_NATIONAL_ID},PT-1,K1,2026,10.00,EUR,1,2026-03-31"))
    assert import_main(["test.ini", "property-tax", str(good)]) == 0
    assert "imported 1 rows: 1 bills issued" in capsys.readouterr().out
    assert bill_count(dbsession) == 1


@pytest.fixture
def instalments(signed_in, dbsession, ana):
    """Ana's 2026 assessment: 1000.00 in two, the first due 30 days ago, the second in 60."""
    clerk = signed_in("clerk-clara")
    due = f"{days_ago(30).isoformat()};{(today() + dt.timedelta(days=60)).isoformat()}"
    upload(
        clerk,
        "property-tax",
        csv_bytes(HEADER, f"{ANA_NATIONAL_ID},PT-ANA,KANA,2026,1000.00,EUR,2,{due}"),
    )
    return bills_of(dbsession, "PT-ANA")


@pytest.fixture
def payer(signed_in, sandbox, dbsession, instalments):
    return Payer(signed_in("citizen-ana"), sandbox, dbsession)


def test_the_bills_page_shows_late_interest_before_paying(payer, instalments):
    """500.00 × 0.08 × 30 / 365 = 3.287671... -> €3.29, only on the overdue instalment, in
    its own column beside the bill's amount."""
    page = payer.app.get("/bills")
    rows = {
        row.select_one("th").contents[0].strip(): {
            cell["data-label"]: " ".join(cell.stripped_strings)
            for cell in row.select("[data-label]")
        }
        for row in page.html.select(".portal-bills tbody tr")
    }
    overdue, later = (
        rows["Property tax 2026, instalment 1 of 2"],
        rows["Property tax 2026, instalment 2 of 2"],
    )
    assert overdue["Amount"] == "€500.00"
    assert overdue["Late interest"] == "€3.29 Late payment interest: 30 days at 8% a year"
    assert later["Late interest"] == "None"


def settle(payer, dbsession, sandbox, response):
    hosted = payer.checkout(response)
    payer.enter_card(hosted, SUCCESS)
    dbsession.expire_all()
    payment = dbsession.scalars(select(Payment).order_by(Payment.id.desc())).first()
    deliver(payer.app, notifications_for(sandbox, payment.public_id)[0])
    dbsession.expire_all()
    return dbsession.get(Payment, payment.id)


def test_paying_an_overdue_instalment_bills_and_posts_the_interest(
    payer, instalments, dbsession, sandbox
):
    overdue, later = instalments
    payment = settle(payer, dbsession, sandbox, payer.pay([overdue]))
    assert payment.status == "succeeded"
    assert payment.amount_minor == 500_00 + 3_29
    (charge,) = dbsession.scalars(select(LateInterestCharge)).all()
    interest = dbsession.get(Bill, charge.bill_id)
    assert (charge.tax_bill_id, charge.days, charge.principal_minor, charge.rate_percent) == (
        overdue.id,
        30,
        500_00,
        "8",
    )
    assert interest.total_minor == 3_29 and interest.service.code == "property-tax"
    assert {a.bill_id for a in payment.allocations} == {overdue.id, interest.id}
    statuses = [v.status for v in with_status(dbsession, [overdue, interest, later])]
    assert statuses == ["paid", "paid", "open"]
    # the ledger: the tax office earned principal and interest, all of it received
    assert account_balance(dbsession, "revenue:property-tax") == {"EUR": -(1000_00 + 3_29)}
    assert account_balance(dbsession, f"receivable:user:{overdue.payer_user_id}") == {"EUR": 500_00}
    assert "Late payment interest" not in payer.app.get("/bills").text


def test_paying_the_whole_year_adds_interest_for_the_overdue_instalment_only(
    payer, instalments, dbsession, sandbox
):
    payment = settle(payer, dbsession, sandbox, payer.pay(instalments))
    assert payment.amount_minor == 1000_00 + 3_29
    assert len(payment.allocations) == 3
    assert {v.status for v in with_status(dbsession, instalments)} == {"paid"}


def test_paying_only_the_instalment_not_yet_due_adds_no_interest(
    payer, instalments, dbsession, sandbox
):
    payment = settle(payer, dbsession, sandbox, payer.pay(instalments[1:]))
    assert payment.amount_minor == 500_00
    assert dbsession.scalars(select(LateInterestCharge)).all() == []


def test_a_repeated_submission_bills_the_interest_once(payer, instalments, dbsession):
    overdue = instalments[0]
    first = payer.pay([overdue], key="k" * 32)
    again = payer.pay([overdue], key="k" * 32)
    assert first.status_int == again.status_int == 303
    assert first.location == again.location
    dbsession.expire_all()
    assert len(dbsession.scalars(select(LateInterestCharge)).all()) == 1
    assert len(dbsession.scalars(select(Payment)).all()) == 1


def test_after_a_failed_payment_the_open_interest_bill_is_paid_not_billed_again(
    payer, instalments, dbsession, clock
):
    from portal.billing import state

    overdue = instalments[0]
    payer.pay([overdue])
    dbsession.expire_all()
    payment = dbsession.scalars(select(Payment)).one()
    state.transition(payment, state.FAILED, "test: card declined", clock.now())
    dbsession.commit()
    payer.pay([overdue])
    dbsession.expire_all()
    second = dbsession.scalars(select(Payment).order_by(Payment.id.desc())).first()
    assert second.amount_minor == 500_00 + 3_29
    assert len(dbsession.scalars(select(LateInterestCharge)).all()) == 1
