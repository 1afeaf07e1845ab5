"""Clerks' reports: collections, refunds and the ageing of receivables, as a page with SVG
charts, as CSV and as XLSX; every total agrees to the cent with the ledger summed here
independently, and a clerk sees only their departments' figures."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ElementTree
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from portal.billing.models import JournalEntry, JournalTransaction, LedgerAccount, Refund
from portal.billing.payments import record_refund, send_refund
from portal.clock import clock as app_clock
from portal.money import Money
from portal.tasks import task_dbsession
from tests import factories
from tests.functional.backoffice.conftest import managed

TIMEZONE = ZoneInfo("Europe/Ljubljana")
SVG = "{http://www.w3.org/2000/svg}"


def today() -> dt.date:
    return dt.datetime.now(TIMEZONE).date()


def refund(provider, payment, minor: int) -> None:
    """A refund of ``minor`` on ``payment``'s first bill, recorded, sent and posted."""
    registry = factories.app_registry(payment)
    with task_dbsession(registry) as session:
        paid = managed(session, payment)
        made = record_refund(
            session,
            paid,
            {paid.allocations[0].bill_id: Money(minor, "EUR")},
            paid.refundable,
            "Report test",
        )
        reference = made.public_id
    with task_dbsession(registry) as session:
        made = session.scalar(select(Refund).where(Refund.public_id == reference))
        send_refund(session, made, provider, app_clock(registry).now())


@pytest.fixture
def books(payments, provider, dbsession):
    """Revenue office (property tax): 12.50 and 30.00 collected, 4.00 of it refunded (which
    that bill, due in 20 days, owes again); registry (vehicles): 45.00 collected. Unpaid: 7.77
    40 days overdue (revenue), 3.33 5 days overdue (registry), 9.99 not yet due (revenue)."""
    payments.settled(amount=12_50)
    payer = factories.user(dbsession, "citizen-chloe")
    later = factories.bill(dbsession, payer, 30_00, due=today() + dt.timedelta(days=20))
    dbsession.commit()
    refunded = payments.settled_for([later], payer)
    payments.settled(amount=45_00, service_code="vehicle-registration")
    refund(provider, refunded, 4_00)
    factories.bill(dbsession, payer, 7_77, due=today() - dt.timedelta(days=40))
    factories.bill(
        dbsession,
        payer,
        3_33,
        service_code="vehicle-registration",
        due=today() - dt.timedelta(days=5),
    )
    factories.bill(dbsession, payer, 9_99, due=today() + dt.timedelta(days=10))
    dbsession.commit()


def ledger_sums(dbsession, first: dt.date, last: dt.date) -> dict[str, int]:
    """From the journal alone: money collected (receivable credits of settled payments) and
    refunded (clearing credits of refunds) on the portal's days ``first`` to ``last``, and
    what the bills owe now (positive receivable balances)."""
    dbsession.expire_all()
    rows = dbsession.execute(
        select(
            JournalTransaction.kind,
            JournalTransaction.created_at,
            LedgerAccount.kind,
            JournalEntry.bill_id,
            JournalEntry.amount_minor,
        )
        .join(JournalEntry, JournalEntry.transaction_id == JournalTransaction.id)
        .join(LedgerAccount, JournalEntry.account_id == LedgerAccount.id)
    )
    sums = {"collections": 0, "refunds": 0}
    owed: dict[int, int] = {}
    for kind, at, account, bill_id, minor in rows:
        if account == "receivable" and bill_id is not None:
            owed[bill_id] = owed.get(bill_id, 0) + minor
        if not first <= at.astimezone(TIMEZONE).date() <= last:
            continue
        if kind == "payment_settled" and account == "receivable":
            sums["collections"] -= minor
        if kind == "refund" and account == "clearing":
            sums["refunds"] -= minor
    sums["ageing"] = sum(minor for minor in owed.values() if minor > 0)
    return sums


def shown_total(page) -> int:
    """The page's total in euros, as minor units."""
    return int(re.sub(r"\D", "", page.html.find(id="total-EUR").text))


def csv_rows(response) -> list[dict]:
    assert response.content_type == "text/csv"
    return list(csv.DictReader(io.StringIO(response.body.decode("utf-8"))))


def xlsx_rows(response) -> tuple[list, list]:
    """(data rows, total rows) of the XLSX file, as cells."""
    assert response.content_type.startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.body)).active
    rows = list(sheet.iter_rows(min_row=2))
    return (
        [row for row in rows if row[0].value != "Total"],
        [row for row in rows if row[0].value == "Total"],
    )


def minor(value) -> int:
    return int(Decimal(str(value)) * 100)


def check_files(app, path: str, params: dict, expected: int, dated: bool) -> None:
    rows = csv_rows(app.get(path + ".csv", params=params))
    assert sum(minor(row["Amount"]) for row in rows) == expected
    data, totals = xlsx_rows(app.get(path + ".xlsx", params=params))
    for row in data:
        assert isinstance(row[3].value, (int, float)) and "EUR" in row[3].number_format
        if dated:
            assert isinstance(row[0].value, dt.datetime) and row[0].is_date
    assert sum(minor(row[3].value) for row in data) == expected
    ((total,),) = [[row[3].value] for row in totals]
    assert minor(total) == expected


@pytest.mark.parametrize("per", ["day", "month"])
def test_every_report_agrees_with_the_ledger_to_the_cent(books, signed_in, dbsession, per):
    first = today().replace(day=1) - dt.timedelta(days=40)
    last = today()
    expected = ledger_sums(dbsession, first, last)
    assert expected == {"collections": 87_50, "refunds": 4_00, "ageing": 7_77 + 3_33 + 9_99 + 4_00}
    app = signed_in("admin-ada")
    for report in ("collections", "refunds"):
        for by in ("service", "department", "channel", "provider"):
            params = {"from": first.isoformat(), "to": last.isoformat(), "per": per, "by": by}
            path = f"/backoffice/reports/{report}"
            assert shown_total(app.get(path, params=params)) == expected[report], (report, by)
            check_files(app, path, params, expected[report], dated=True)
    for by in ("service", "department"):
        params = {"date": last.isoformat(), "by": by}
        page = app.get("/backoffice/reports/ageing", params=params)
        assert shown_total(page) == expected["ageing"]
        check_files(app, "/backoffice/reports/ageing", params, expected["ageing"], dated=False)


def test_a_period_that_ended_before_the_payments_shows_nothing(books, signed_in):
    page = signed_in("admin-ada").get(
        "/backoffice/reports/collections",
        params={"from": "2025-01-01", "to": "2025-01-31"},
    )
    assert page.html.find(id="total-EUR") is None
    assert "Nothing in this report." in page.text


def test_the_ageing_puts_each_bill_in_its_band(books, signed_in):
    page = signed_in("admin-ada").get("/backoffice/reports/ageing", params={"by": "department"})
    figures = [
        [cell.text.strip() for cell in row.select("td")]
        for row in page.html.select("#figures tbody tr")
    ]
    assert figures == [
        ["Not yet due", "Revenue Office", "2", "€13.99"],
        ["1–30 days overdue", "Civil Registry and Licensing", "1", "€3.33"],
        ["31–90 days overdue", "Revenue Office", "1", "€7.77"],
    ]


def test_a_clerk_sees_only_their_departments_figures(books, signed_in):
    """Clara works for the revenue office, Dan for the registry."""
    app = signed_in("clerk-clara")
    page = app.get("/backoffice/reports/collections", params={"by": "service"})
    assert shown_total(page) == 42_50
    assert "Property tax" in page.text and "Vehicle-Registration" not in page.text
    rows = csv_rows(app.get("/backoffice/reports/collections.csv", params={"by": "department"}))
    assert {row["Department"] for row in rows} == {"Revenue Office"}
    data, _totals = xlsx_rows(app.get("/backoffice/reports/refunds.xlsx"))
    assert [(row[1].value, minor(row[3].value)) for row in data] == [("Property tax", 4_00)]
    ageing = app.get("/backoffice/reports/ageing")
    assert shown_total(ageing) == 7_77 + 9_99 + 4_00
    # another department's figures are not to be had by asking for them
    app.get("/backoffice/reports/collections", params={"department": "registry"}, status=404)
    app.get("/backoffice/reports/ageing.csv", params={"department": "registry"}, status=404)

    dan = signed_in("clerk-dan")
    page = dan.get("/backoffice/reports/collections", params={"by": "department"})
    assert shown_total(page) == 45_00 and "Revenue Office" not in page.text


def test_the_channel_is_the_card_scheme_without_the_cards_digits(books, signed_in):
    rows = csv_rows(
        signed_in("admin-ada").get("/backoffice/reports/collections.csv", params={"by": "channel"})
    )
    assert {row["Payment channel"] for row in rows} == {"Visa"}


def test_an_administrator_may_narrow_a_report_to_one_department(books, signed_in):
    app = signed_in("admin-ada")
    page = app.get("/backoffice/reports/collections", params={"department": "registry"})
    assert shown_total(page) == 45_00


def test_the_charts_are_accessible_well_formed_svg(books, signed_in):
    app = signed_in("admin-ada")
    for path in ("collections", "refunds", "ageing"):
        page = app.get(f"/backoffice/reports/{path}")
        charts = re.findall(r"<svg .*?</svg>", page.text, flags=re.DOTALL)
        assert len(charts) == 2, path
        for markup in charts:
            svg = ElementTree.fromstring(markup)
            assert svg.tag == SVG + "svg" and svg.get("role") == "img"
            title, desc = svg.find(SVG + "title"), svg.find(SVG + "desc")
            assert title is not None and "EUR" in title.text and desc.text
            assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
            assert svg.findall(f".//{SVG}rect"), path
    page = app.get("/backoffice/reports/collections", params={"by": "provider"})
    assert "<script" not in page.text.split("<main")[1]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-03-10", "to": "2026-03-01"}, "The period must end on or after"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "Choose a period of at most 366 days."),
        ({"from-day": "31", "from-month": "2", "from-year": "2026"}, "Enter a real date"),
        ({"from": "yesterday"}, "Dates are written as YYYY-MM-DD"),
        ({"by": "payer"}, "Choose one of the options the report form offers."),
        ({"per": "week"}, "Choose one of the options the report form offers."),
    ],
)
def test_a_bad_period_or_choice_is_refused_with_a_clear_message(signed_in, params, message, caplog):
    app = signed_in("clerk-clara")
    for path in ("collections", "collections.csv", "refunds.xlsx"):
        caplog.clear()
        page = app.get(f"/backoffice/reports/{path}", params=params, status=400)
        assert message in page.text
        assert [r.getMessage() for r in caplog.records if "refused 400" in r.getMessage()]


def test_a_leap_year_is_one_period(signed_in):
    app = signed_in("clerk-clara")
    app.get(
        "/backoffice/reports/collections",
        params={"from": "2028-01-01", "to": "2028-12-31", "per": "month"},
        status=200,
    )


def test_reports_are_for_clerks_and_linked_from_the_back_office(signed_in):
    citizen = signed_in("citizen-ana")
    citizen.get("/backoffice/reports", status=403)
    citizen.get("/backoffice/reports/collections.csv", status=403)
    app = signed_in("clerk-clara")
    index = app.get("/backoffice").click(href="/backoffice/reports$")
    for report in ("collections", "refunds", "ageing"):
        assert index.click(href=f"/backoffice/reports/{report}$").status_int == 200
