"""What the contract page refuses, each time with a clear message and nothing changed: a
contract before the standstill is over, a value that is no amount, a day in the future, no
signed document, a refusal to sign without a reason; and nobody but the tender's own
department's buyers finds the page (404), nor the signed contract before the tender is
complete."""

from __future__ import annotations

import pytest
import webtest
from sqlalchemy import func, select

from portal.procurement.models import Contract, QualificationDecision, Tender
from tests import factories
from tests.functional.procurement.after_opening import browser, opened_tender
from tests.functional.procurement.contract_support import (
    HELD,
    SAME_ORIGIN,
    SIGNED,
    award,
    balance,
    past_standstill,
    record_contract,
    refund_count,
)


@pytest.fixture
def awarded(wsgi_app, devidp, sandbox, dbsession, clock, departments):
    """Opened at lowest price and awarded to Peter's Southgate: the standstill is running."""
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock, quality=False)
    award(wsgi_app, made, "rep-peter", clock.now(), dbsession)
    return made


def unchanged(dbsession, made, status: str) -> None:
    """Nothing was recorded: the tender where it was, no contract, no refusal, the winner's
    security still held."""
    dbsession.expire_all()
    assert dbsession.get_one(Tender, made.tender.id).status == status
    assert dbsession.scalar(select(func.count()).select_from(Contract)) == 0
    assert dbsession.scalar(select(func.count()).select_from(QualificationDecision)) == 1
    assert made.bid(dbsession, "rep-peter").deposit.status == "held"
    assert balance(dbsession, HELD) == -1_000_00 and refund_count(dbsession) == 2


def test_no_contract_before_the_standstill_is_over(awarded, wsgi_app, devidp, dbsession, clock):
    clock.advance(days=9)
    bruno = browser(wsgi_app, devidp, "buyer-bruno")
    reference = awarded.tender.reference
    page = bruno.get(f"/procurement/tenders/{reference}/contract")
    assert "contract-form" not in page.forms and "refusal-form" not in page.forms
    assert "once the standstill period is over" in page.text
    token = page.html.find("input", {"name": "csrf_token"})["value"]
    refused = bruno.post(
        f"/procurement/tenders/{reference}/contract",
        {"csrf_token": token, "value": "176950"},
        upload_files=[("document", "contract.pdf", SIGNED)],
        headers=SAME_ORIGIN,
        status=409,
    )
    assert "once the standstill period is over" in refused.text
    refused = bruno.post(
        f"/procurement/tenders/{reference}/contract/refusal",
        {"csrf_token": token, "refusal_reason": "Would not sign."},
        headers=SAME_ORIGIN,
        status=409,
    )
    assert "once the standstill period is over" in refused.text
    unchanged(dbsession, awarded, "standstill")


@pytest.fixture
def contracting(awarded, wsgi_app, devidp, clock):
    past_standstill(wsgi_app, clock)
    return browser(wsgi_app, devidp, "buyer-bruno")


def test_a_value_that_is_no_amount_is_refused(contracting, awarded, dbsession, clock):
    form = record_contract(contracting, awarded.tender.reference, clock, value="a lot")
    page = form.submit(status=422)
    assert "Enter the contract&#39;s value in EUR, more than zero" in page.text
    assert page.forms["contract-form"]["value"].value == "a lot"
    unchanged(dbsession, awarded, "contracting")


def test_a_value_of_zero_and_a_day_in_the_future_are_refused(
    contracting, awarded, dbsession, clock
):
    form = record_contract(contracting, awarded.tender.reference, clock, value="0")
    form["signed_on-year"] = str(int(form["signed_on-year"].value) + 1)
    page = form.submit(status=422)
    assert "more than zero" in page.text
    assert "The day it was signed cannot be in the future." in page.text
    unchanged(dbsession, awarded, "contracting")


def test_a_contract_without_its_signed_document_is_refused(contracting, awarded, dbsession, clock):
    form = record_contract(contracting, awarded.tender.reference, clock)
    form["document"] = None
    page = form.submit(status=422)
    assert "Choose a file to upload." in page.text
    unchanged(dbsession, awarded, "contracting")


def test_a_refusal_to_sign_needs_its_reason(contracting, awarded, dbsession):
    page = contracting.get(f"/procurement/tenders/{awarded.tender.reference}/contract")
    refused = page.forms["refusal-form"].submit(status=422)
    assert "Say why the winner did not sign." in refused.text
    unchanged(dbsession, awarded, "contracting")


@pytest.mark.parametrize("persona", ["citizen-ana", "rep-peter", "clerk-clara"])
def test_only_the_departments_buyers_find_the_contract_page(
    awarded, wsgi_app, devidp, dbsession, clock, persona
):
    past_standstill(wsgi_app, clock)
    app = browser(wsgi_app, devidp, persona)
    reference = awarded.tender.reference
    app.get(f"/procurement/tenders/{reference}/contract", status=404)
    token = app.get("/account").html.find("input", {"name": "csrf_token"})["value"]
    for path in ("contract", "contract/refusal"):
        app.post(
            f"/procurement/tenders/{reference}/{path}",
            {"csrf_token": token, "refusal_reason": "No.", "value": "1"},
            headers=SAME_ORIGIN,
            status=404,
        )
    unchanged(dbsession, awarded, "contracting")


def test_a_buyer_of_another_department_finds_no_contract_page(
    awarded, wsgi_app, devidp, dbsession, clock
):
    tender = dbsession.get_one(Tender, awarded.tender.id)
    tender.department = factories.department(dbsession, "revenue")
    dbsession.commit()
    past_standstill(wsgi_app, clock)
    bruno = browser(wsgi_app, devidp, "buyer-bruno")
    reference = awarded.tender.reference
    bruno.get(f"/procurement/tenders/{reference}/contract", status=404)
    token = bruno.get("/account").html.find("input", {"name": "csrf_token"})["value"]
    for path in ("contract", "contract/refusal"):
        bruno.post(
            f"/procurement/tenders/{reference}/{path}",
            {"csrf_token": token, "refusal_reason": "No."},
            headers=SAME_ORIGIN,
            status=404,
        )
    unchanged(dbsession, awarded, "contracting")


def test_the_signed_contract_is_not_public_before_the_tender_is_complete(awarded, wsgi_app, clock):
    past_standstill(wsgi_app, clock)
    anyone = webtest.TestApp(wsgi_app, extra_environ={"wsgi.url_scheme": "https"})
    anyone.get(f"/tenders/{awarded.tender.reference}/contract/document", status=404)
    anyone.get("/tenders/T-2099-999999/contract/document", status=404)
