"""A refused form is shown again with one error summary (templates/_components.jinja2), the
same on every form: before the form, an alert that takes the focus, "There is a problem",
then each error as a link to its field; and each field in error shows its own message, which
the field names in its aria-describedby."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.services.catalogue import sync_services
from portal.services.models import FeeScheduleEntry
from tests import factories
from tests.error_summary import assert_error_summary


@pytest.fixture
def services(wsgi_app, dbsession, departments):
    sync_services(dbsession, wsgi_app.registry)
    dbsession.commit()


def test_paying_with_no_bill_chosen(signed_in, dbsession):
    app = signed_in("citizen-ana")
    ana = factories.user(dbsession, "citizen-ana")
    factories.bill(dbsession, ana, amount=12_00, description="Water, October")
    dbsession.commit()
    page = app.get("/bills").forms["pay-0"].submit(status=400)
    assert_error_summary(page, ["bill"])
    assert "Choose at least one bill to pay." in page.html.find(id="form-errors").text


def test_a_fee_with_bad_answers(signed_in, services):
    form = signed_in("admin-ada").get("/admin/fees").forms["fee-form"]
    form["item_code"], form["label"], form["amount"] = "car", "", "twelve"
    form["effective_from-day"], form["effective_from-month"] = "31", "2"
    page = form.submit(status=422)
    assert_error_summary(page, ["label", "amount", "effective_from"])


def test_an_application_sent_empty(signed_in, dbsession, services):
    dbsession.add(
        FeeScheduleEntry(
            service_code="vehicle-registration",
            item_code="truck",
            label="truck",
            amount_minor=120_00,
            currency="EUR",
            effective_from=dt.date.today() - dt.timedelta(days=1),
        )
    )
    dbsession.commit()
    app = signed_in("citizen-ana")
    form = app.get("/applications/new/vehicle-registration").forms["application-form"]
    page = form.submit("action", value="submit", status=422)
    required = [
        field["name"].removesuffix("-day")
        for field in page.html.find(id="application-form").select(".usa-input--error")
        if not field["name"].endswith(("-month", "-year"))
    ]
    assert required
    assert_error_summary(page, required)


def test_an_erasure_search_too_short(signed_in, departments):
    app = signed_in("admin-ada")
    form = app.get("/admin/privacy/erasure").forms["erasure-search"]
    form["query"] = "ab"
    assert_error_summary(form.submit(status=422), ["query"])


def test_a_committee_key_sent_empty(signed_in):
    page = (
        signed_in("clerk-clara")
        .get("/procurement/committee-key")
        .forms["committee-key-form"]
        .submit(status=422)
    )
    assert_error_summary(page, ["passphrase"])


def test_a_public_tender_search_with_a_bad_code(testapp, departments):
    page = testapp.get("/tenders", params={"cpv": "forty"}, status=400)
    assert_error_summary(page, ["cpv"])
