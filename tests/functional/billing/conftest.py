"""Paying through the portal as a citizen does: bills page, checkout, the sandbox's hosted page
over real HTTP, then the provider's signed notification handed to the portal."""

import json
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests import factories


class Payer:
    """A signed-in citizen's browser (WebTest for the portal, requests for the provider)."""

    def __init__(self, app, sandbox, dbsession):
        self.app = app
        self.sandbox = sandbox
        self.dbsession = dbsession
        self.browser = requests.Session()

    def bills_form(self, group=0):
        return self.app.get("/bills").forms[f"pay-{group}"]

    def pay(self, bills, key=None, group=0):
        """Submit the bills page for ``bills``; returns the redirect to the review page (or
        the error)."""
        form = self.bills_form(group)
        for checkbox in form.fields.get("bill", []):
            checkbox.checked = checkbox._value in {bill.public_id for bill in bills}
        if key:
            form["idempotency_key"] = key
        return form.submit(expect_errors=True)

    def review(self, response):
        """Follow the answer to paying to the review page."""
        assert urlsplit(response.location).path.endswith("/checkout"), response
        return self.app.get(urlsplit(response.location).path, status=200)

    def checkout(self, response):
        """Follow the answer to paying to the review page and press its "Pay" button;
        returns the provider's hosted page URL."""
        hosted = self.review(response).forms["checkout-form"].submit(status=303).location
        assert hosted.startswith(self.sandbox.base_url)
        return hosted

    def enter_card(self, hosted_url, number, **fields):
        form = {
            "card_number": number,
            "expiry": "12/39",
            "cvc": "123",
            "cardholder_name": "Ana Novak",
            **fields,
        }
        return self.browser.post(hosted_url, data=form, allow_redirects=False)

    def answer_challenge(self, hosted_url, code):
        return self.browser.post(
            f"{hosted_url}/challenge", data={"code": code}, allow_redirects=False
        )


def notifications_for(sandbox, reference, timeout=5.0, count=1):
    """The signed notifications the sandbox sent about payment ``reference`` (as delivered)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [
            d
            for d in list(sandbox.receiver.deliveries)
            if json.loads(d["body"])["data"].get("reference") == reference
        ]
        if len(found) >= count:
            return found
        time.sleep(0.02)
    return [
        d
        for d in list(sandbox.receiver.deliveries)
        if json.loads(d["body"])["data"].get("reference") == reference
    ]


def deliver(app, delivery, status=200):
    """Hand a notification to the portal exactly as the provider sent it."""
    headers = {
        "Sandbox-Signature": delivery["headers"]["Sandbox-Signature"],
        "Content-Type": "application/json",
    }
    return app.post(
        "/billing/notifications/sandbox", delivery["body"], headers=headers, status=status
    )


@pytest.fixture
def payer(signed_in, sandbox, dbsession):
    app = signed_in("citizen-ana")
    return Payer(app, sandbox, dbsession)


@pytest.fixture
def ana(payer, dbsession):
    from portal.identity.models import User

    return dbsession.query(User).filter_by(name_id="citizen-ana").one()


@pytest.fixture
def ana_bills(ana, dbsession):
    bills = [
        factories.bill(dbsession, ana, amount=120_00, description="Property tax 2026 Q1"),
        factories.bill(
            dbsession, ana, amount=35_40, service_code="water", description="Water, October"
        ),
    ]
    dbsession.commit()
    return bills
