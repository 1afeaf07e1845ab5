"""Texts from data in each language: a department's clerks write its name, its services'
names and descriptions and its fee labels per language on the back office's texts page (its
own department only, or any as an administrator); bill imports and the API take a bill's
description per language; every reader then reads their language's, else the default."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.applications.catalogue import VehicleRegistration
from portal.audit.models import AuditEntry
from portal.billing import issue_bill
from portal.billing.models import Bill
from portal.catalogue.models import Service
from portal.identity.models import Department
from portal.money import Money
from portal.services import fees
from portal.services.models import FeeScheduleEntry
from tests import factories
from tests.error_summary import assert_error_summary
from tests.functional.api.conftest import conforms, make_client, new_bill
from tests.functional.services.conftest import ANA_NATIONAL_ID, csv_bytes, today, upload
from tests.languages import pages_follow_accept_language

TEXTS = "/backoffice/departments/revenue/texts"
SAME_ORIGIN = {"Referer": "https://localhost/backoffice"}
SLOVENIAN = {"Accept-Language": "sl"}


def texts_form(app, path=TEXTS):
    return app.get(path).forms["texts-form"]


def water(dbsession) -> Service:
    dbsession.expire_all()
    return dbsession.scalars(select(Service).where(Service.code == "water")).one()


def test_a_clerk_writes_the_departments_texts_and_readers_of_that_language_read_them(
    signed_in, dbsession, services, wsgi_app, testapp
):
    app = signed_in("clerk-clara")
    form = texts_form(app)
    form["department.name.sl"] = "  Davčni   urad "
    form["service.water.name.sl"] = "Pitna voda"
    form["service.water.description.sl"] = "Mesečni računi za pitno vodo."
    form["service.water.name.en"] = "Drinking water"
    page = form.submit(headers=SAME_ORIGIN, status=303).follow()
    assert "The texts were saved." in page.text
    assert page.forms["texts-form"]["service.water.name.sl"].value == "Pitna voda"
    assert water(dbsession).name_translations == {"sl": "Pitna voda", "en": "Drinking water"}
    assert water(dbsession).description_translations == {"sl": "Mesečni računi za pitno vodo."}
    revenue = dbsession.scalars(select(Department).where(Department.code == "revenue")).one()
    assert revenue.name_translations == {"sl": "Davčni urad"}
    (entry,) = dbsession.scalars(
        select(AuditEntry).where(AuditEntry.action == "catalogue.texts_changed")
    )
    assert entry.details == {
        "texts": ["department.name", "service.water.name", "service.water.description"]
    }

    testapp.reset()
    with pages_follow_accept_language(wsgi_app.registry):
        slovenian = testapp.get("/services/water", headers=SLOVENIAN)
        english = testapp.get("/services/water")
        catalogue = testapp.get("/services", {"q": "pitna"}, headers=SLOVENIAN)
    assert "<h1>Pitna voda</h1>" in slovenian.text
    assert "Mesečni računi za pitno vodo." in slovenian.text
    assert "Davčni urad" in slovenian.text
    assert "<h1>Drinking water</h1>" in english.text and "Revenue Office" in english.text
    # the English description is still the plugin's; the search reads the reader's names
    assert "Monthly bills of the water company" in english.text
    assert [a.text for a in catalogue.html.select(".usa-card__heading a")] == ["Pitna voda"]


def test_what_readers_read_while_a_field_is_empty_is_shown_under_it(signed_in, services):
    form_page = signed_in("clerk-clara").get(TEXTS)
    # the catalogue's Slovenian of a built-in service's name; a name the catalogue does not
    # have is read in the default language, and marked as English
    hint = form_page.html.select_one("#service\\.property-tax\\.name\\.sl-hint")
    assert "Davek na nepremičnine" in hint.text and hint.select_one("span")["lang"] == "sl"
    hint = form_page.html.select_one("#department\\.name\\.sl-hint")
    assert "Revenue Office" in hint.text and hint.select_one("span")["lang"] == "en"


def test_the_texts_page_keeps_the_language_picker_named(signed_in, services):
    """The page's own list of languages must not hide the layout's: the picker's buttons
    were left without names once (axe-core: button-name)."""
    page = signed_in("clerk-clara").get(TEXTS)
    choices = page.html.select(".portal-language__choice")
    assert [button.text.strip() for button in choices][-1] == "简体中文"
    assert all(button.text.strip() for button in choices)


@pytest.mark.parametrize("method", ["get", "post"])
def test_only_the_departments_clerks_and_administrators_write_its_texts(
    signed_in, services, testapp, method
):
    dan = signed_in("clerk-dan")
    if method == "get":
        dan.get(TEXTS, status=403)
    else:
        token = texts_form(dan, "/backoffice/departments/registry/texts")["csrf_token"].value
        dan.post(TEXTS, {"csrf_token": token}, headers=SAME_ORIGIN, status=403)
    testapp.reset()
    signed_in("admin-ada").get(TEXTS, status=200)


def test_the_form_needs_its_csrf_token(signed_in, dbsession, services):
    app = signed_in("clerk-clara")
    app.post(TEXTS, {"service.water.name.sl": "Voda"}, headers=SAME_ORIGIN, status=400).mustcontain(
        "The form has expired"
    )
    assert water(dbsession).name_translations == {}


def test_a_text_too_long_is_refused_with_a_link_to_its_field_and_nothing_is_saved(
    signed_in, dbsession, services
):
    app = signed_in("clerk-clara")
    form = texts_form(app)
    form["service.water.name.sl"] = "Voda"
    form["service.water.name.fr"] = "x" * 201
    page = form.submit(headers=SAME_ORIGIN, status=422)
    link = page.html.select_one("#form-errors a")
    assert link["href"] == "#service.water.name.fr"
    assert "At most 200 characters." in link.text
    assert link.find("span", lang="fr") is not None  # the language named in its own
    assert_error_summary(page, ["service.water.name.fr"])
    assert page.forms["texts-form"]["service.water.name.sl"].value == "Voda"
    assert water(dbsession).name_translations == {}


def test_a_new_price_keeps_the_labels_translations_while_the_label_stays(dbsession, services):
    day = today()
    first = fees.set_fee(
        dbsession,
        fees.FeeChange("vehicle-registration", "car", "Car", Money(45_00, "EUR"), day),
    )
    first.label_translations = {"sl": "Avtomobil"}
    dbsession.flush()
    later = day + dt.timedelta(days=30)
    same = fees.set_fee(
        dbsession,
        fees.FeeChange("vehicle-registration", "car", "Car", Money(50_00, "EUR"), later),
    )
    assert same.label_translations == {"sl": "Avtomobil"}
    renamed = fees.set_fee(
        dbsession,
        fees.FeeChange("vehicle-registration", "car", "Passenger car", Money(50_00, "EUR"), later),
    )
    assert renamed.id == same.id and renamed.label_translations == {}
    assert {entry.id for entry in dbsession.scalars(select(FeeScheduleEntry))} == {
        first.id,
        same.id,
    }


UTILITY = "customer_number,national_id,bill_number,description,due_date,amount,currency"


def test_an_import_takes_a_bills_description_in_other_languages(
    signed_in, dbsession, ana, wsgi_app, testapp
):
    upload(
        signed_in("clerk-clara"),
        "water",
        csv_bytes(
            f"{UTILITY},description_sl,description_zh_hans",
            f"W-1,{ANA_NATIONAL_ID},W-1-1,Water October,2026-11-15,21.00,EUR,Voda oktober,",
        ),
    )
    bill = dbsession.scalars(select(Bill).where(Bill.number == "W-1-1")).one()
    assert (bill.description, bill.description_translations) == (
        "Water October",
        {"sl": "Voda oktober"},
    )
    assert bill.lines[0].description_translations == {"sl": "Voda oktober"}


def test_an_import_with_a_description_in_a_language_the_portal_has_not_is_refused(
    signed_in, dbsession, ana
):
    page = upload(
        signed_in("clerk-clara"),
        "water",
        csv_bytes(
            f"{UTILITY},description_de",
            f"W-1,{ANA_NATIONAL_ID},W-1-1,Water,2026-11-15,21.00,EUR,Wasser",
        ),
        status=422,
    )
    assert "The column description_de is not known." in page.text
    assert dbsession.scalars(select(Bill)).all() == []


def test_the_api_takes_and_gives_a_bills_descriptions_in_other_languages(
    wsgi_app, engine, dbsession, ana
):
    client = make_client(wsgi_app, dbsession, "water")
    body = new_bill(
        descriptions={"sl": "Oskrba z vodo, oktober 2026", "zh-Hans": "供水，2026年10月"},
        lines=[{"description": "Water", "descriptions": {"sl": "Voda"}, "amount": 1250}],
    )
    created = conforms(client.post("/api/v1/bills", body, status=201), "/api/v1/bills", "post")
    assert created["descriptions"] == {
        "sl": "Oskrba z vodo, oktober 2026",
        "zh_Hans": "供水，2026年10月",
    }
    assert created["lines"][0]["descriptions"] == {"sl": "Voda"}
    bill = dbsession.scalars(select(Bill)).one()
    assert bill.description_translations["zh_Hans"] == "供水，2026年10月"


def test_the_api_gives_the_services_name_in_the_languages_its_department_gave(
    wsgi_app, engine, dbsession, ana
):
    client = make_client(wsgi_app, dbsession, "water")
    service = dbsession.scalars(select(Service).where(Service.code == "water")).one()
    service.name_translations = {"sl": "Oskrba z vodo", "fr": "Distribution d'eau"}
    dbsession.commit()
    created = conforms(
        client.post("/api/v1/bills", new_bill(), status=201), "/api/v1/bills", "post"
    )
    assert created["service"]["names"] == {"sl": "Oskrba z vodo", "fr": "Distribution d'eau"}
    again = client.get(f"/api/v1/bills/{created['public_id']}", status=200).json
    assert again["service"] == created["service"]


@pytest.mark.parametrize(
    ("descriptions", "pointer"),
    [
        ({"de": "Wasser"}, "#/descriptions/de"),
        ({"sl": ""}, "#/descriptions/sl"),
        ({"sl": "x" * 301}, "#/descriptions/sl"),
        (["sl"], "#/descriptions"),
    ],
)
def test_the_api_refuses_a_description_in_an_unknown_language_or_badly_written(
    wsgi_app, engine, dbsession, ana, descriptions, pointer
):
    client = make_client(wsgi_app, dbsession, "water")
    response = client.post("/api/v1/bills", new_bill(descriptions=descriptions), status=422)
    assert [error["pointer"] for error in response.json["errors"]] == [pointer]
    assert dbsession.scalars(select(Bill)).all() == []


def test_an_application_fee_is_kept_in_every_language_the_catalogues_have(dbsession):
    """The fee's line names the vehicle's category, a message of its own: on a Slovenian
    receipt both read in Slovenian."""
    plugin = VehicleRegistration()
    day = today()
    fees.set_fee(
        dbsession,
        fees.FeeChange(plugin.info.code, "passenger-car", "Car", Money(45_00, "EUR"), day),
    )
    bill = issue_bill(
        dbsession,
        service=factories.service(dbsession, plugin.info.code),
        number="APP-1",
        description=plugin.info.name,
        due_date=day,
        lines=plugin.fee(dbsession, {"category": "passenger-car"}, day),
        payer_user=factories.user(dbsession),
    )
    assert bill.description == "Vehicle registration"
    assert bill.description_translations["sl"] == "Registracija vozila"
    assert bill.lines[0].description == "Vehicle registration: Passenger car"
    assert bill.lines[0].description_translations["sl"] == "Registracija vozila: Osebni avtomobil"
