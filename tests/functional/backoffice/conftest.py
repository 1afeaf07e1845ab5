"""Payments made for real: bills and payments through the portal's services, paid on the
sandbox's hosted page over HTTP, then settled from what the provider reports.

Billing calls that have effects after commit (receipts, refunds) run in a session joined to a
transaction manager, as the portal's own tasks do (:func:`portal.tasks.task_dbsession`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from portal.billing import BillLineInput, apply_report, issue_bill
from portal.billing.models import Bill, Payment
from portal.billing.payments import start_payment
from portal.billing.providers.sandbox import SandboxProvider
from portal.clock import clock as app_clock
from portal.money import Money
from portal.tasks import task_dbsession
from tests import factories
from tests.sandbox.conftest import API_KEY, FAST_SETTINGS, MERCHANT_ID, SECRET, Receiver, Sandbox


def csrf_token(app) -> str:
    """The CSRF token the layout's sign-out form carries for a signed-in person."""
    return re.search(r'name="csrf_token" value="([^"]+)"', app.get("/").text).group(1)


def refund_form(app, payment: Payment, amounts: dict, reason: str):
    """The clerk's payment page's refund form with ``amounts`` (bill -> typed text) filled in."""
    form = app.get(f"/backoffice/payments/{payment.public_id}").forms["refund-form"]
    for bill, typed in amounts.items():
        form[f"amount-{bill.public_id}"] = typed
    form["reason"] = reason
    return form


def refund_through_pages(app, payment: Payment, amounts: dict, reason: str) -> None:
    """Choose, confirm and refund as a clerk's browser does."""
    confirm = refund_form(app, payment, amounts, reason).submit(status=200)
    confirm.forms["confirm-form"].submit(status=303)


def the_payment(dbsession, public_id: str) -> Payment:
    dbsession.expire_all()
    return dbsession.scalar(select(Payment).where(Payment.public_id == public_id))


def pay_at_provider(dbsession, provider, sandbox, payment: Payment) -> None:
    """Open the hosted page for ``payment`` and pay it with a card that succeeds."""
    url = start_payment(
        payment,
        provider,
        description="Payment to the public services",
        return_url=f"https://localhost/payments/{payment.public_id}/return",
        notify_url=sandbox.receiver.url,
        now=dt.datetime.now(dt.UTC),
    )
    dbsession.commit()
    assert sandbox.pay({"hosted_url": url}).status_code == 303


def managed(session, payment: Payment) -> Payment:
    """``payment`` as loaded in ``session``."""
    return session.scalar(select(Payment).where(Payment.public_id == payment.public_id))


def settle(provider, payment: Payment, report=None, now=None) -> None:
    """Apply what the provider says about ``payment`` (or ``report``) ``now`` (by default
    the app's clock) and commit."""
    registry = factories.app_registry(payment)
    with task_dbsession(registry) as session:
        report = report or provider.query_payment(payment.public_id)
        apply_report(
            session, managed(session, payment), report, "test", now or app_clock(registry).now()
        )


class Payments:
    """Makes payments of bills of a service, optionally paid and settled."""

    def __init__(self, dbsession, provider, sandbox):
        self.dbsession = dbsession
        self.provider = provider
        self.sandbox = sandbox

    def unpaid(self, amount=12_50, service_code="property-tax", payer=None) -> Payment:
        dbsession = self.dbsession
        payer = payer or factories.user(dbsession, "citizen-ben")
        bill = factories.bill(dbsession, payer, amount=amount, service_code=service_code)
        payment = factories.payment(dbsession, payer, [bill])
        dbsession.commit()
        return payment

    def paid_at_provider(self, **kwargs) -> Payment:
        payment = self.unpaid(**kwargs)
        pay_at_provider(self.dbsession, self.provider, self.sandbox, payment)
        return payment

    def settled(self, **kwargs) -> Payment:
        return self.settle(self.paid_at_provider(**kwargs))

    def settle(self, payment: Payment) -> Payment:
        settle(self.provider, payment)
        payment = the_payment(self.dbsession, payment.public_id)
        assert payment.status == "succeeded"
        return payment

    def settled_for(self, bills: list, payer) -> Payment:
        """One payment of all ``bills`` (what each still owes), paid and settled."""
        payment = factories.payment(self.dbsession, payer, bills)
        self.dbsession.commit()
        pay_at_provider(self.dbsession, self.provider, self.sandbox, payment)
        return self.settle(payment)


@dataclass
class WaterTaxAndInterest:
    """The bills of issue #9: a water bill, a property tax instalment and its interest."""

    payer: object
    water: Bill
    tax: Bill
    interest: Bill

    @property
    def bills(self) -> list[Bill]:
        return [self.water, self.tax, self.interest]


def water_tax_and_interest(dbsession, payer) -> WaterTaxAndInterest:
    """Issued to ``payer``; the water bill has two items, so item lines can be checked."""
    water = issue_bill(
        dbsession,
        service=factories.service(dbsession, "water"),
        number="W-2026-0042",
        description="Water, October 2026",
        due_date=dt.date(2026, 11, 30),
        lines=[
            BillLineInput("Water, 9 m³", Money(18_00, "EUR")),
            BillLineInput("Sewerage", Money(3_00, "EUR")),
        ],
        payer_user=payer,
    )
    tax = factories.bill(
        dbsession, payer, 206_30, description="Property tax 2026, second instalment"
    )
    interest = factories.bill(
        dbsession,
        payer,
        2_03,
        service_code="late-interest",
        description="Late payment interest on the property tax",
    )
    dbsession.commit()
    return WaterTaxAndInterest(payer, water, tax, interest)


@pytest.fixture
def services(dbsession, departments):
    factories.service(dbsession, "property-tax", "Property tax", "revenue")
    factories.service(dbsession, "vehicle-registration", "Vehicle registration", "registry")
    dbsession.commit()


@pytest.fixture
def provider(wsgi_app):
    """The provider the portal itself uses: the session's sandbox over HTTP."""
    return wsgi_app.registry["payment_provider"]


@pytest.fixture
def payments(dbsession, provider, sandbox, services) -> Payments:
    return Payments(dbsession, provider, sandbox)


@pytest.fixture
def own_sandbox(tmp_path):
    """A sandbox of its own, so its settlement report holds only this test's payments."""
    receiver = Receiver()
    sandbox = Sandbox({**FAST_SETTINGS, "db_path": str(tmp_path / "sandbox.db")}, receiver)
    yield sandbox
    sandbox.close()
    receiver.close()


@pytest.fixture
def own_provider(own_sandbox):
    return SandboxProvider(own_sandbox.base_url, MERCHANT_ID, API_KEY, SECRET)


@pytest.fixture
def own_payments(wsgi_app, dbsession, own_provider, own_sandbox, services) -> Payments:
    """Settled through the portal's own sessions (:func:`settle`), which see committed data."""
    return Payments(dbsession, own_provider, own_sandbox)
