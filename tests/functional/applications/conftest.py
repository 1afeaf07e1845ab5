"""Applications driven the way people use them: a citizen's browser, a clerk's browser, and
the sandbox's hosted payment page over real HTTP."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
import webtest
from sqlalchemy import select

from portal.applications.models import Application
from portal.services.models import FeeScheduleEntry
from tests.conftest import sign_in
from tests.functional.billing.conftest import Payer, deliver, notifications_for
from tests.sandbox.conftest import SUCCESS

#: (service, item, amount) in force since last year; a later price is not in force yet
FEES = [
    ("vehicle-registration", "passenger-car", 45_00),
    ("vehicle-registration", "motorcycle", 25_00),
    ("vehicle-registration", "trailer", 15_00),
    ("vehicle-registration", "truck", 120_00),
    ("business-licence", "licence", 250_00),
    ("civil-status-copy", "copy", 8_50),
]

VEHICLE = {
    "category": "truck",
    "vin": "wdb9634031l123456",
    "make_model": "Mercedes Actros",
    "first_registered": "2024-05-17",
}


@pytest.fixture
def fees(dbsession, departments):
    last_year = dt.date.today() - dt.timedelta(days=365)
    for service, item, amount in FEES:
        dbsession.add(
            FeeScheduleEntry(
                service_code=service,
                item_code=item,
                label=item,
                amount_minor=amount,
                currency="EUR",
                effective_from=last_year,
            )
        )
    dbsession.add(
        FeeScheduleEntry(
            service_code="vehicle-registration",
            item_code="truck",
            label="truck",
            amount_minor=999_00,
            currency="EUR",
            effective_from=dt.date.today() + dt.timedelta(days=10),
        )
    )
    dbsession.commit()


@pytest.fixture
def browser(wsgi_app, devidp, departments):
    """A factory: ``browser("clerk-dan")`` is a new browser signed in as that persona."""

    def make(persona: str) -> webtest.TestApp:
        app = webtest.TestApp(
            wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
        )
        response = sign_in(app, devidp, persona)
        assert response.status_int == 303, response.text
        return app

    return make


@pytest.fixture
def citizen(browser, fees):
    return browser("citizen-ana")


@pytest.fixture
def clerk(browser):
    return browser("clerk-dan")


def csrf_token(app) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', app.get("/").text).group(1)


def post(app, url: str, fields: dict | None = None, status=303, with_token=True):
    """A POST as the portal's own pages send it (same origin, with the CSRF token)."""
    fields = dict(fields or {})
    if with_token:
        fields["csrf_token"] = csrf_token(app)
    return app.post(url, fields, headers={"Referer": "https://localhost/"}, status=status)


def the_application(dbsession, public_id=None) -> Application:
    dbsession.expire_all()
    query = select(Application)
    if public_id:
        query = query.where(Application.public_id == public_id)
    return dbsession.scalars(query).one()


def fill(form, values: dict) -> None:
    """Type ``values`` into the form; a date (given as YYYY-MM-DD) into its day, month and
    year boxes, as a person does."""
    for name, value in values.items():
        if f"{name}-day" in form.fields:
            year, month, day = value.split("-")
            form[f"{name}-day"], form[f"{name}-month"] = str(int(day)), str(int(month))
            form[f"{name}-year"] = year
        else:
            form[name] = value


def apply(app, values=VEHICLE, service="vehicle-registration") -> str:
    """Submit a valid application; returns its public id."""
    form = app.get(f"/applications/new/{service}").forms["application-form"]
    fill(form, values)
    done = form.submit("action", value="submit", status=303)
    return urlsplit(done.location).path.rsplit("/", 1)[1]


def pay(app, sandbox, dbsession, public_id: str) -> None:
    """Pay the application's fee with a card that succeeds; the provider's notification is
    handed to the portal as it was sent."""
    payer = Payer(app, sandbox, dbsession)
    page = app.get(f"/applications/{public_id}")
    checkout = page.forms["pay-form"].submit(status=303)
    hosted = payer.checkout(checkout)
    assert payer.enter_card(hosted, SUCCESS).status_code == 303
    payment_id = urlsplit(checkout.location).path.split("/")[2]
    (notification,) = notifications_for(sandbox, payment_id)
    assert deliver(app, notification).json == {"status": "processed"}


@pytest.fixture
def paid_application(citizen, sandbox, dbsession):
    """Ana's truck registration, submitted and paid (120.00 EUR)."""
    public_id = apply(citizen)
    pay(citizen, sandbox, dbsession, public_id)
    assert "Paid, waiting for a clerk" in citizen.get(f"/applications/{public_id}")
    assert the_application(dbsession, public_id).status == "in_queue"
    return public_id
