"""Arranging billing data the way the portal itself makes it (through its services)."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

from sqlalchemy import select
from sqlalchemy.orm import object_session

from portal.billing import BillLineInput, create_payment, issue_bill
from portal.catalogue.models import Service
from portal.clock import clock as app_clock
from portal.db import registry_of
from portal.identity.models import Department, User
from portal.money import Money

_numbers = itertools.count(1)


def app_registry(loaded):
    """The registry of the app whose session loaded ``loaded`` (the tests' sessions come from
    the app's session factory), for a task's own transaction in that app."""
    return registry_of(object_session(loaded))


def department(dbsession, code="revenue", name="Revenue Office") -> Department:
    found = dbsession.scalar(select(Department).where(Department.code == code))
    if found is None:
        found = Department(code=code, name=name)
        dbsession.add(found)
        dbsession.flush()
    return found


def service(dbsession, code="property-tax", name="Property tax", department_code="revenue"):
    found = dbsession.scalar(select(Service).where(Service.code == code))
    if found is None:
        found = Service(
            code=code,
            name=name if code == "property-tax" else code.title(),
            department=department(dbsession, department_code),
        )
        dbsession.add(found)
        dbsession.flush()
    return found


def user(dbsession, name_id="citizen-ana", idp="https://idp.test/metadata") -> User:
    found = dbsession.scalar(select(User).where(User.name_id == name_id))
    if found is None:
        found = User(
            idp_entity_id=idp,
            name_id=name_id,
            given_name="Ana",
            family_name="Novak",
            email="ana@example.org",
        )
        dbsession.add(found)
        dbsession.flush()
    return found


def bill(
    dbsession,
    payer=None,
    amount=12_50,
    currency="EUR",
    service_code="property-tax",
    organisation=None,
    due=None,
    description="Property tax 2026, first instalment",
):
    return issue_bill(
        dbsession,
        service=service(dbsession, service_code),
        number=f"B-{next(_numbers):06d}",
        description=description,
        due_date=due or dt.date(2026, 12, 31),
        lines=[BillLineInput(description, Money(amount, currency))],
        payer_user=None if organisation else payer,
        payer_organisation=organisation,
    )


def payment(dbsession, payer, bills, key=None, provider="sandbox", now=None):
    """A payment of ``bills`` created ``now`` (by default the real time, which is also where
    the ``clock`` fixture starts)."""
    return create_payment(
        dbsession,
        user=payer,
        bill_ids=[b.id for b in bills],
        idempotency_key=key or uuid.uuid4().hex,
        provider=provider,
        timeout=dt.timedelta(minutes=90),
        now=now or dt.datetime.now(dt.UTC),
    )


def refund_bill_paid(wsgi_app, payment_id: int, paid_minor: int, reason: str) -> int:
    """Refund in full the one bill that payment ``payment_id`` paid ``paid_minor`` on, as a
    clerk's confirmed refund and the provider's answer would: returns the refund's id."""
    from portal.billing import request_refund
    from portal.billing.models import Payment, Refund
    from portal.billing.payments import send_refund
    from portal.tasks import task_dbsession

    with task_dbsession(wsgi_app.registry) as session:
        payment = session.get(Payment, payment_id)
        (bill_id,) = [a.bill_id for a in payment.allocations if a.amount_minor == paid_minor]
        amounts = {bill_id: Money(paid_minor, payment.currency)}
        refund_id = request_refund(session, payment, amounts, payment.refundable, reason).id
    with task_dbsession(wsgi_app.registry) as session:
        send_refund(
            session,
            session.get(Refund, refund_id),
            wsgi_app.registry["payment_provider"],
            app_clock(wsgi_app.registry).now(),
        )
    return refund_id
