"""Arranging billing data the way the portal itself makes it (through its services)."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

from sqlalchemy import select
from sqlalchemy.orm import object_session

from portal.billing import BillLineInput, create_payment, issue_bill
from portal.catalogue.models import Service
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
    clerk's refund does (sent to the provider once committed): returns the refund's id."""
    from portal.billing import request_refund
    from portal.billing.models import Payment
    from portal.tasks import task_dbsession

    with task_dbsession(wsgi_app.registry) as session:
        payment = session.get(Payment, payment_id)
        (bill_id,) = [a.bill_id for a in payment.allocations if a.amount_minor == paid_minor]
        amounts = {bill_id: Money(paid_minor, payment.currency)}
        refund_id = request_refund(session, payment, amounts, payment.refundable, reason).id
    return refund_id


def webhook_delivery(dbsession, service, url="https://hooks.example.org/portal"):
    """An endpoint of ``service`` (hearing every event) and one delivery waiting for it."""
    from portal.services.webhooks.models import WebhookDelivery, WebhookEndpoint, new_event_id

    now = dt.datetime.now(dt.UTC)
    endpoint = WebhookEndpoint(
        service=service, url=url, events="bill.paid", created_at=now, active_from=now
    )
    delivery = WebhookDelivery(
        endpoint=endpoint,
        event_id=new_event_id(),
        event_type="bill.paid",
        payload="{}",
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now + dt.timedelta(hours=1),
        retry_until=now + dt.timedelta(hours=24),
    )
    dbsession.add_all([endpoint, delivery])
    dbsession.flush()
    return endpoint, delivery


def committee_member(dbsession, name_id: str, passphrase: str = "correct horse battery staple"):
    """A clerk of the procurement department with a committee key sealed under ``passphrase``
    (at the cheapest Argon2id cost, so tests stay fast)."""
    from portal.procurement.committee_keys import KdfCost, create_committee_key
    from portal.procurement.models import CommitteeKey
    from portal.procurement.tenders import committee_key_of

    member = user(dbsession, name_id)
    if not member.departments:
        member.departments = [department(dbsession, "procurement", "Public Procurement Office")]
    if committee_key_of(dbsession, member) is None:
        key = create_committee_key(passphrase, cost=KdfCost(iterations=1, memory_kib=8, lanes=1))
        dbsession.add(
            CommitteeKey(
                user=member,
                public_key=key.public_key,
                sealed_private_key=key.sealed_private_key,
                created_at=dt.datetime.now(dt.UTC),
            )
        )
    dbsession.flush()
    return member


def tender(
    dbsession,
    *,
    now: dt.datetime,
    published: bool = True,
    title: str = "Road resurfacing, Main Street",
    questions_days: int = 5,
    bidding_days: int = 10,
    opening_hours: int = 2,
    bid_fee: int = 50_00,
    deposit: int = 1_000_00,
    members: tuple[str, ...] = ("clerk-clara", "clerk-dan", "clerk-mia"),
    threshold: int = 2,
    timezone: str = "Europe/Ljubljana",
):
    """A tender of the procurement department, created ``now`` and by default published then:
    questions for ``questions_days``, bids until ``bidding_days`` from now, opened
    ``opening_hours`` after the deadline, a committee of ``members`` (each with a key)."""
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from portal.procurement.models import CommitteeSeat, TenderItem
    from portal.procurement.tenders import new_tender, publish

    buyer = user(dbsession, "buyer-bruno")
    procurement = department(dbsession, "procurement", "Public Procurement Office")
    if not buyer.buying_departments:
        buyer.buying_departments = [procurement]
    made = new_tender(
        dbsession,
        department=procurement,
        actor=buyer,
        title=title,
        now=now,
        timezone=ZoneInfo(timezone),
    )
    made.description = "Resurfacing of 1.2 km of Main Street, with kerbs and markings."
    made.estimated_value_minor = 250_000_00
    made.bid_fee_minor = bid_fee
    made.deposit_minor = deposit
    made.items = [
        TenderItem(
            position=1,
            description="Asphalt resurfacing",
            cpv_code="45233252-0",
            quantity=Decimal("8400"),
            unit="m²",
        )
    ]
    made.questions_until = now + dt.timedelta(days=questions_days)
    made.bids_until = now + dt.timedelta(days=bidding_days)
    made.opening_at = made.bids_until + dt.timedelta(hours=opening_hours)
    made.committee = [
        CommitteeSeat(member=committee_member(dbsession, name_id)) for name_id in members
    ]
    made.committee_threshold = threshold
    dbsession.flush()
    if published:
        publish(dbsession, made, actor=buyer, now=now)
    return made
