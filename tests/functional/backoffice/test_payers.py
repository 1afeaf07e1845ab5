"""The payer view: a clerk finds a person or organisation and sees their bills, payments and
refunds of the clerk's departments; the national identifier stays masked unless revealed on
purpose, with a reason, which is recorded."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEntry
from portal.identity.models import Organisation
from portal.services.models import UtilityAccount
from tests import factories
from tests.error_summary import assert_error_summary
from tests.functional.backoffice.test_reports import refund

NATIONAL_ID = "19750505-5678"


@pytest.fixture
def ben(payments, provider, dbsession, wsgi_app):
    """Ben: a property tax bill paid and 2.00 of it refunded, and a water customer account
    (revenue office); a vehicle registration bill unpaid (registry)."""
    vault = wsgi_app.registry["pii_vault"]
    payer = factories.user(dbsession, "citizen-ben")
    payer.given_name, payer.family_name = "Ben", "Kovač"
    payer.national_id_hash = vault.lookup_hash(NATIONAL_ID)
    payer.national_id_encrypted = vault.encrypt(NATIONAL_ID)
    tax = factories.bill(dbsession, payer, 25_00)
    vehicle = factories.bill(dbsession, payer, 57_00, service_code="vehicle-registration")
    water = factories.service(dbsession, "water", department_code="revenue")
    dbsession.add(UtilityAccount(service=water, customer_number="W-100202", payer_user=payer))
    dbsession.commit()
    paid = payments.settled_for([tax], payer)
    refund(provider, paid, 2_00)
    return {"user": payer, "tax": tax, "vehicle": vehicle, "payment": paid}


def search(app, text: str, status=200):
    form = app.get("/backoffice/payers").forms["search-form"]
    form["q"] = text
    return form.submit(status=status)


def found_names(page) -> list[str]:
    return [link.text for link in page.html.select("#found a")]


def test_a_clerk_finds_a_payer_by_name_customer_number_or_national_identifier(ben, signed_in):
    app = signed_in("clerk-clara")
    for text in ("kovač", "Ben Ko", "W-100202", NATIONAL_ID):
        page = search(app, text)
        assert page.request.method == "POST" and page.request.query_string == ""
        assert found_names(page) == ["Ben Kovač"], text
        found = page.html.find(id="found").text
        assert NATIONAL_ID not in found and "•5678" in found
    # the identifier is matched whole, never in part
    assert found_names(search(app, NATIONAL_ID[:-1])) == []


def test_a_payer_of_other_departments_only_is_not_found(payments, signed_in, dbsession):
    payer = factories.user(dbsession, "citizen-chloe")
    factories.bill(dbsession, payer, 10_00, service_code="vehicle-registration")
    dbsession.commit()
    assert found_names(search(signed_in("clerk-clara"), "Novak")) == []
    assert found_names(search(signed_in("clerk-dan"), "Novak")) == ["Ana Novak"]


def test_an_empty_search_is_refused_with_a_message(signed_in):
    page = search(signed_in("clerk-clara"), "   ", status=422)
    assert "Enter a name, a customer number or a national identifier." in page.text
    assert_error_summary(page, ["q"])


def test_the_search_needs_the_csrf_token(signed_in):
    signed_in("clerk-clara").post("/backoffice/payers", {"q": "Ben"}, status=400)


def test_the_payer_page_shows_the_clerks_departments_objects_only(ben, signed_in):
    app = signed_in("clerk-clara")
    page = search(app, "Ben").click("Ben Kovač")
    bills = page.html.find(id="bills").text
    assert ben["tax"].number in bills and ben["vehicle"].number not in bills
    assert ben["payment"].public_id in page.html.find(id="payments").decode()
    refunds = page.html.find(id="refunds").text
    assert "€2.00" in refunds and ben["tax"].number in refunds

    dan = signed_in("clerk-dan")
    page = dan.get(page.request.path)
    assert ben["vehicle"].number in page.html.find(id="bills").text
    assert ben["tax"].number not in page.text
    assert "No payments." in page.text and "No refunds." in page.text


def test_a_clerk_of_a_department_that_never_billed_the_payer_may_not_look(ben, signed_in):
    signed_in("clerk-mia").get(f"/backoffice/payers/people/{ben['user'].id}", status=403)
    signed_in("citizen-ana").get("/backoffice/payers", status=403)
    signed_in("admin-ada").get(f"/backoffice/payers/people/{ben['user'].id}", status=200)


def test_the_national_identifier_is_revealed_only_with_a_reason_and_recorded(
    ben, signed_in, caplog, dbsession
):
    app = signed_in("clerk-clara")
    page = app.get(f"/backoffice/payers/people/{ben['user'].id}")
    assert page.html.find(id="national-id").text == "•••••••5678"
    assert NATIONAL_ID not in page.text
    refused = page.forms["reveal-form"].submit(status=422)
    assert NATIONAL_ID not in refused.text
    assert "Say in at most 500 characters why" in refused.text
    assert_error_summary(refused, ["reason"])
    assert refused.html.title.text.strip().startswith("Ben Kovač ·")  # the title, no table
    viewed = select(func.count()).select_from(AuditEntry)
    assert dbsession.scalar(viewed.where(AuditEntry.action == "person.national_id_viewed")) == 0
    form = refused.forms["reveal-form"]
    form["reason"] = "The payer asks on the phone which account the payment came from."
    caplog.clear()
    caplog.set_level(logging.INFO)
    revealed = form.submit(status=200)
    assert revealed.html.find(id="national-id").text == NATIONAL_ID
    assert "reveal-form" not in revealed.text
    (line,) = [r.getMessage() for r in caplog.records if "national identifier" in r.getMessage()]
    assert f"payer user={ben['user'].id}" in line and NATIONAL_ID not in line
    dbsession.expire_all()
    (entry,) = dbsession.scalars(
        select(AuditEntry).where(AuditEntry.action == "person.national_id_viewed")
    ).all()
    assert (entry.object_type, entry.object_id) == ("user", str(ben["user"].id))
    assert entry.subject_id == ben["user"].id and entry.actor_id != ben["user"].id
    assert entry.personal == {"reason": form["reason"].value}
    assert NATIONAL_ID not in str(entry.details)
    # a GET never reveals it, and the POST needs the CSRF token
    app.post(f"/backoffice/payers/people/{ben['user'].id}/national-id", {"reason": "x"}, status=400)
    revealed_count = select(func.count()).where(AuditEntry.action == "person.national_id_viewed")
    assert dbsession.scalar(revealed_count) == 1


def test_an_organisation_is_found_by_registration_number(payments, signed_in, dbsession):
    organisation = Organisation(registration_number="NW-100200", name="Northwind Supplies Ltd")
    dbsession.add(organisation)
    dbsession.flush()
    bill = factories.bill(
        dbsession, None, 250_00, organisation=organisation, due=dt.date(2027, 1, 31)
    )
    dbsession.commit()
    app = signed_in("clerk-clara")
    page = search(app, "nw-100200").click("Northwind Supplies Ltd")
    assert bill.number in page.html.find(id="bills").text
    assert "reveal-form" not in page.text
    app.post(
        f"/backoffice/payers/organisations/{organisation.id}/national-id",
        {"reason": "x", "csrf_token": "wrong"},
        status=400,
    )
    assert dbsession.scalar(select(Organisation.id).where(Organisation.name == "x")) is None


def test_the_payer_page_lists_the_payers_cases_of_the_clerks_departments(ben, signed_in, dbsession):
    from portal.cases.work import open_case

    now = dt.datetime.now(dt.UTC)
    for code, title in (("revenue", "Tax payment to look at"), ("registry", "Vehicle question")):
        open_case(
            dbsession,
            "payment_attention",
            subject_type="payment",
            subject_id=f"{code}-{ben['payment'].public_id}",
            title=lambda _locale, title=title: title,
            department_id=factories.department(dbsession, code).id,
            now=now,
            person_id=ben["user"].id,
        )
    dbsession.commit()
    path = f"/backoffice/payers/people/{ben['user'].id}"
    cases = signed_in("clerk-clara").get(path).html.find(id="cases")
    assert "Tax payment to look at" in cases.text and "Vehicle question" not in cases.text
    assert "Payment needing attention" in cases.text
    link = cases.find("a")["href"]
    assert signed_in("clerk-clara").get(link).status_int == 200
    cases = signed_in("clerk-dan").get(path).html.find(id="cases")
    assert "Vehicle question" in cases.text and "Tax payment to look at" not in cases.text
    cases = signed_in("admin-ada").get(path).html.find(id="cases")
    assert "Vehicle question" in cases.text and "Tax payment to look at" in cases.text
