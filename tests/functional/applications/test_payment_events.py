"""Applications hear from billing: the fee's payment moves an application into the clerk's queue
in the payment's own transaction, nobody has to open a page for it, and no page of
applications writes when it is only looked at."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import func, select

from portal.applications import state
from portal.applications.models import ApplicationEvent
from portal.billing.models import JournalTransaction, Payment
from portal.receipts.models import Receipt
from tests.functional.applications.conftest import apply, pay, post, the_application
from tests.functional.billing.conftest import Payer, deliver, notifications_for
from tests.sandbox.conftest import SILENT, SUCCESS
from tests.sql import statements

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def test_the_notification_alone_puts_the_application_in_the_queue(citizen, sandbox, dbsession):
    public_id = apply(citizen)
    pay(citizen, sandbox, dbsession, public_id)
    # no page was opened since the provider's notification was processed
    application = the_application(dbsession, public_id)
    assert application.status == state.IN_QUEUE
    payment = dbsession.scalars(select(Payment)).one()
    queued = dbsession.scalars(
        select(ApplicationEvent).where(
            ApplicationEvent.application_id == application.id,
            ApplicationEvent.to_status == state.IN_QUEUE,
        )
    ).one()
    assert queued.at == payment.settled_at


def test_a_payment_settled_by_the_periodic_job_puts_the_application_in_the_queue(
    citizen, sandbox, dbsession, wsgi_app
):
    """No notification ever comes: the job that asks the provider settles the payment, and
    the application moves in the job's own transaction."""
    from portal.billing.tasks import settle_or_expire_payments

    public_id = apply(citizen)
    payer = Payer(citizen, sandbox, dbsession)
    checkout = citizen.get(f"/applications/{public_id}").forms["pay-form"].submit(status=303)
    assert payer.enter_card(payer.checkout(checkout), SILENT).status_code == 303
    assert the_application(dbsession, public_id).status == state.AWAITING_PAYMENT
    settle_or_expire_payments(wsgi_app.registry)
    assert the_application(dbsession, public_id).status == state.IN_QUEUE
    assert dbsession.scalar(select(Payment.status)) == "succeeded"


def test_pages_of_applications_never_write(citizen, clerk, sandbox, dbsession, wsgi_app):
    paid = apply(citizen)
    pay(citizen, sandbox, dbsession, paid)
    unpaid = apply(citizen)
    code = the_application(dbsession, paid).service.department.code
    pages = [
        (citizen, "/applications"),
        (citizen, f"/applications/{paid}"),
        (citizen, f"/applications/{unpaid}"),
        (clerk, f"/backoffice/departments/{code}/applications"),
        (clerk, f"/backoffice/departments/{code}/applications?status=awaiting_payment"),
        (clerk, f"/backoffice/applications/{paid}"),
        (clerk, f"/backoffice/applications/{unpaid}"),
    ]
    for browser, url in pages:
        with statements(wsgi_app) as seen:
            browser.get(url, status=200)
        assert seen, url
        # the sign-in session's row notes when it was last used (its idle timeout), on any page
        writes = [s for s in seen if WRITE.match(s) and not s.startswith("UPDATE web_session")]
        assert writes == [], url


def test_a_failing_subscriber_rolls_the_payment_back(citizen, sandbox, dbsession, monkeypatch):
    public_id = apply(citizen)
    payer = Payer(citizen, sandbox, dbsession)
    checkout = citizen.get(f"/applications/{public_id}").forms["pay-form"].submit(status=303)
    assert payer.enter_card(payer.checkout(checkout), SUCCESS).status_code == 303
    (notification,) = notifications_for(sandbox, urlsplit(checkout.location).path.split("/")[2])
    settlements_before = dbsession.scalar(select(func.count()).select_from(JournalTransaction))

    def broken(*args, **kwargs):
        raise RuntimeError("the application's queue is unavailable")

    monkeypatch.setattr(state, "transition", broken)
    # the provider is told to try again later; the notification is not acknowledged
    assert deliver(citizen, notification, status=500).json["status"] == 500

    dbsession.expire_all()
    payment = dbsession.scalars(select(Payment)).one()
    assert payment.status != "succeeded" and payment.settled_at is None
    assert dbsession.scalar(select(func.count()).select_from(JournalTransaction)) == (
        settlements_before
    )
    assert dbsession.scalar(select(func.count()).select_from(Receipt)) == 0
    assert the_application(dbsession, public_id).status == state.AWAITING_PAYMENT

    # the provider delivers the notification again; now the payment and the queue commit together
    monkeypatch.undo()
    assert deliver(citizen, notification).json == {"status": "processed"}
    assert the_application(dbsession, public_id).status == state.IN_QUEUE
    assert dbsession.scalar(select(Payment.status)) == "succeeded"
    post(citizen, f"/applications/{public_id}/pay", {"idempotency_key": "k" * 20}, status=409)
