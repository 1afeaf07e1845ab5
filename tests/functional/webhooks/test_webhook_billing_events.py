"""A citizen pays through the portal and a clerk refunds: the property tax's receiver hears
its own bill paid and refunded, and nothing about the water company's bill."""

from __future__ import annotations

import webtest
from sqlalchemy import select

from bench.webhook_receiver import Receiver
from portal.billing.models import Payment
from tests import factories
from tests.conftest import sign_in
from tests.functional.billing.conftest import deliver, notifications_for
from tests.functional.webhooks.conftest import add_endpoint, deliveries, running
from tests.functional.webhooks.test_webhook_delivery import as_documented
from tests.sandbox.conftest import SUCCESS


def test_the_service_hears_its_bill_paid_and_then_refunded(
    wsgi_app, devidp, payer, ana_bills, dbsession, sandbox
):
    clara = webtest.TestApp(
        wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    )
    sign_in(clara, devidp, "clerk-clara")
    tax_bill, water_bill = ana_bills
    receiver = Receiver([])
    with running(receiver) as port:
        receiver.secrets.append(add_endpoint(clara, f"http://127.0.0.1:{port}/hooks"))
        payer.enter_card(payer.checkout(payer.pay(ana_bills)), SUCCESS)
        payment = dbsession.scalars(select(Payment)).one()
        deliver(payer.app, notifications_for(sandbox, payment.public_id)[0])
        factories.refund_bill_paid(wsgi_app, payment.id, 120_00, "Assessed twice")
    paid, refunded = sorted(receiver.events.values(), key=lambda event: event["created"])
    assert paid["type"] == "bill.paid"
    assert paid["data"]["bill"]["id"] == tax_bill.public_id
    assert paid["data"]["bill"]["status"] == "paid"
    assert paid["data"]["payment"] == {"id": payment.public_id, "amount": 120_00}
    assert refunded["type"] == "payment.refunded"
    assert refunded["data"]["bill"]["status"] == "open"
    assert refunded["data"]["bill"]["outstanding"] == 120_00
    assert refunded["data"]["refund"]["payment"] == payment.public_id
    assert refunded["data"]["refund"]["amount"] == 120_00
    assert [d.status for d in deliveries(dbsession)] == ["delivered", "delivered"]
    assert as_documented(paid, "billPaid") == as_documented(refunded, "paymentRefunded") == []
