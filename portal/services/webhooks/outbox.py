"""Billing's events, heard and written down as deliveries: the outbox.

A subscriber runs inside the transaction that paid, refunded or cancelled; it writes one
:class:`WebhookDelivery` per endpoint that hears the event, in that transaction, and asks
for it to be sent once the transaction has committed. A rolled-back payment leaves no
delivery, and a committed one always has its deliveries, even if the queue lost the job
(:func:`portal.services.webhooks.delivery.deliver_due_webhooks` picks them up).
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.billing import BillView, with_status
from portal.billing.events import BillCancelled, PaymentSucceeded, RefundSucceeded
from portal.billing.models import Bill
from portal.clock import clock
from portal.db import registry_of
from portal.i18n import _
from portal.services.webhooks.delivery import RETRY_WINDOW, send_after_commit
from portal.services.webhooks.listening import listening_services
from portal.services.webhooks.models import (
    PENDING,
    WebhookDelivery,
    WebhookEndpoint,
    new_event_id,
)

BILL_PAID = "bill.paid"
BILL_PARTLY_PAID = "bill.partly_paid"
PAYMENT_REFUNDED = "payment.refunded"
BILL_CANCELLED = "bill.cancelled"
#: the events an endpoint may hear, as the administrator's page names them
EVENT_TYPES = {
    BILL_PAID: _("Bill paid"),
    BILL_PARTLY_PAID: _("Bill partly paid"),
    PAYMENT_REFUNDED: _("Payment refunded"),
    BILL_CANCELLED: _("Bill cancelled"),
}


def _listening(
    dbsession: Session, service_ids: set[int], now: dt.datetime
) -> list[WebhookEndpoint]:
    """The endpoints of these services that hear events now; no statement at all when this
    process knows none of the services has an endpoint."""
    if not service_ids & listening_services(registry_of(dbsession)).services(dbsession, now):
        return []
    return list(
        dbsession.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.service_id.in_(service_ids),
                WebhookEndpoint.removed_at.is_(None),
                WebhookEndpoint.active_from <= now,
            )
        )
    )


def _bill_data(view: BillView) -> dict:
    bill = view.bill
    return {
        "id": bill.public_id,
        "number": bill.number,
        "service": bill.service.code,
        "currency": bill.currency,
        "total": bill.total_minor,
        "outstanding": view.outstanding.minor,
        "status": view.status,
    }


def _record(
    dbsession: Session,
    endpoints: list[WebhookEndpoint],
    bill: Bill,
    event_type: str,
    data: dict,
    now: dt.datetime,
) -> None:
    """One event about ``bill``: a delivery for each of its service's endpoints hearing it,
    all with the same event id (the receiver's key for telling repeats apart)."""
    hearing = [
        endpoint
        for endpoint in endpoints
        if endpoint.service_id == bill.service_id and event_type in endpoint.event_types
    ]
    if not hearing:
        return
    event_id = new_event_id()
    payload = json.dumps(
        {"id": event_id, "type": event_type, "created": now.isoformat(), "data": data},
        separators=(",", ":"),
        sort_keys=True,
    )
    deliveries = [
        WebhookDelivery(
            endpoint_id=endpoint.id,
            event_id=event_id,
            event_type=event_type,
            payload=payload,
            status=PENDING,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
            retry_until=now + RETRY_WINDOW,
        )
        for endpoint in hearing
    ]
    dbsession.add_all(deliveries)
    dbsession.flush()
    for delivery in deliveries:
        send_after_commit(dbsession, delivery.id)


def payment_succeeded(event: PaymentSucceeded) -> None:
    """Each bill the payment went to is paid, or partly paid, by it."""
    dbsession, payment = event.dbsession, event.payment
    allocations = list(payment.allocations)
    now = clock(registry_of(dbsession)).now()
    endpoints = _listening(dbsession, {a.bill.service_id for a in allocations}, now)
    if not endpoints:
        return
    views = with_status(dbsession, [a.bill for a in allocations])
    for allocation, view in zip(allocations, views, strict=True):
        if view.settled:
            event_type = BILL_PAID
        elif view.payable:
            event_type = BILL_PARTLY_PAID
        else:  # a cancelled bill: its payment is news for the clerks, not a bill paid
            continue
        data = {
            "bill": _bill_data(view),
            "payment": {"id": payment.public_id, "amount": allocation.amount_minor},
        }
        _record(dbsession, endpoints, view.bill, event_type, data, now)


def refund_succeeded(event: RefundSucceeded) -> None:
    """Money went back on each bill of the refund's lines."""
    dbsession, refund = event.dbsession, event.refund
    lines = list(refund.lines)
    bills = [line.bill for line in lines]
    now = clock(registry_of(dbsession)).now()
    endpoints = _listening(dbsession, {bill.service_id for bill in bills}, now)
    if not endpoints:
        return
    for line, view in zip(lines, with_status(dbsession, bills), strict=True):
        data = {
            "bill": _bill_data(view),
            "refund": {
                "id": refund.public_id,
                "payment": refund.payment.public_id,
                "amount": line.amount_minor,
            },
        }
        _record(dbsession, endpoints, view.bill, PAYMENT_REFUNDED, data, now)


def bill_cancelled(event: BillCancelled) -> None:
    dbsession, bill = event.dbsession, event.bill
    now = clock(registry_of(dbsession)).now()
    endpoints = _listening(dbsession, {bill.service_id}, now)
    if not endpoints:
        return
    (view,) = with_status(dbsession, [bill])
    _record(dbsession, endpoints, bill, BILL_CANCELLED, {"bill": _bill_data(view)}, now)


def includeme(config) -> None:
    config.add_subscriber(payment_succeeded, PaymentSucceeded)
    config.add_subscriber(refund_succeeded, RefundSucceeded)
    config.add_subscriber(bill_cancelled, BillCancelled)
