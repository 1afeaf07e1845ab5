"""A department's payments page: its own payments only, searchable, and those needing a clerk."""

from __future__ import annotations

import lxml.html

from portal.billing import printed
from tests.functional.backoffice.conftest import the_payment


def sections(page) -> tuple[str, str]:
    """(the "needs attention" list, the recent payments list) of the page."""
    attention, recent = page.text.split('id="recent"')
    return attention.split('id="attention"')[1], recent


def test_the_department_lists_its_payments_and_those_needing_attention(
    signed_in, payments, dbsession
):
    ours = payments.unpaid(amount=12_50)
    flagged = payments.unpaid(amount=40_00)
    flagged.needs_attention = "overpayment: B-000123"
    dbsession.commit()
    theirs = payments.unpaid(amount=30_00, service_code="vehicle-registration")
    app = signed_in("clerk-clara")
    page = app.get("/backoffice/departments/revenue/payments")
    attention, recent = sections(page)
    assert ours.public_id in recent and flagged.public_id in recent
    assert theirs.public_id not in page.text
    assert flagged.public_id in attention and "overpayment: B-000123" in attention
    assert ours.public_id not in attention
    detail = page.click(href=f"/backoffice/payments/{ours.public_id}")
    assert ours.allocations[0].bill.number in detail.text


def test_search_by_payment_bill_number_or_rf_reference(signed_in, payments, dbsession):
    wanted = payments.unpaid(amount=12_50)
    other = payments.unpaid(amount=20_00)
    bill = wanted.allocations[0].bill
    app = signed_in("clerk-clara")
    for search in (wanted.public_id.upper(), bill.number, printed(bill.reference).lower()):
        _, recent = sections(
            app.get("/backoffice/departments/revenue/payments", params={"q": search})
        )
        assert wanted.public_id in recent and other.public_id not in recent, search
    _, recent = sections(
        app.get("/backoffice/departments/revenue/payments", params={"q": "RF00NOTHING"})
    )
    assert wanted.public_id not in recent and "No payments found." in recent


def test_filter_by_status(signed_in, payments, dbsession):
    paid = payments.settled(amount=12_50)
    waiting = payments.unpaid(amount=20_00)
    app = signed_in("clerk-clara")
    _, recent = sections(
        app.get("/backoffice/departments/revenue/payments", params={"status": "succeeded"})
    )
    assert paid.public_id in recent and waiting.public_id not in recent
    _, recent = sections(
        app.get("/backoffice/departments/revenue/payments", params={"status": "created"})
    )
    assert waiting.public_id in recent and paid.public_id not in recent
    assert the_payment(dbsession, paid.public_id).status == "succeeded"


def test_a_payment_that_is_not_settled_offers_no_refund(signed_in, payments):
    waiting = payments.unpaid(amount=20_00)
    page = signed_in("clerk-clara").get(f"/backoffice/payments/{waiting.public_id}")
    assert "refund-form" not in page.text


def test_each_payment_shows_its_payer_bills_and_services(signed_in, payments, dbsession):
    from tests import factories
    from tests.functional.backoffice.conftest import water_tax_and_interest

    payer = factories.user(dbsession, "citizen-ben")
    issued = water_tax_and_interest(dbsession, payer)
    paid = payments.settled_for(issued.bills, payer)
    page = signed_in("clerk-clara").get("/backoffice/departments/revenue/payments")
    row = lxml.html.fromstring(page.text).xpath(
        f'//section[@id="recent"]//tr[.//a[@href="/backoffice/payments/{paid.public_id}"]]'
    )[0]
    cells = {cell.get("data-label"): cell for cell in row}
    assert " ".join(cells["Payer"].text_content().split()) == payer.display_name
    assert [" ".join(li.text_content().split()) for li in cells["Bills"].iter("li")] == [
        "W-2026-0042 · Water",
        f"{issued.tax.number} · Property tax",
        f"{issued.interest.number} · Late-Interest",
    ]
    assert cells["Amount"].text_content().strip() == "€229.33"
    assert paid.public_id not in row.text_content()  # the reference is the link, not the text


def test_the_back_office_links_the_imports_for_those_who_may_import(signed_in, payments):
    clara = signed_in("clerk-clara").get("/backoffice")
    link = clara.click(href="/backoffice/imports")
    assert link.status_int == 200
    other = lxml.html.fromstring(clara.text).get_element_by_id("other-work")
    assert "Import bills from a file" in other.text_content()
