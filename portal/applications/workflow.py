"""What happens to an application: drafts, submission (a bill is issued), payment noticed from
the ledger, and a clerk's decision (a certificate, or the fee refunded)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from portal.applications import state
from portal.applications.models import Application, ApplicationEvent
from portal.billing import ledger
from portal.billing import state as payment_state
from portal.billing.bills import issue_bill
from portal.billing.models import Payment, PaymentAllocation
from portal.billing.payments import request_refund
from portal.clock import Clock
from portal.identity.models import Department
from portal.money import Money
from portal.services.interfaces import APPLICATION, public_services
from portal.services.models import Service

log = logging.getLogger(__name__)

#: days the citizen has to pay an application's fee
PAYMENT_DAYS = 30


class ApplicationRefused(Exception):
    """A request about an application that cannot go ahead; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def application_services(registry) -> dict:
    """The catalogue's services that are applied for (and approved by a clerk)."""
    return {
        code: service
        for code, service in public_services(registry).items()
        if service.info.kind == APPLICATION
    }


def service_record(dbsession, info) -> Service:
    """The catalogue row of a registered service, made the first time it is applied for."""
    record = dbsession.scalar(select(Service).where(Service.code == info.code))
    if record is not None:
        return record
    department = dbsession.scalar(select(Department).where(Department.code == info.department_code))
    if department is None:
        raise ApplicationRefused(503, "This service is not open yet: its office is not set up.")
    record = Service(code=info.code, name=info.name.interpolate(), department=department)
    dbsession.add(record)
    dbsession.flush()
    return record


def start_draft(
    dbsession, service: Service, applicant, values: dict[str, str], now: dt.datetime
) -> Application:
    application = Application(
        service=service, applicant=applicant, status=state.DRAFT, created_at=now, updated_at=now
    )
    application.form = values
    application.events.append(
        ApplicationEvent(to_status=state.DRAFT, actor_id=applicant.id, at=now)
    )
    dbsession.add(application)
    dbsession.flush()
    return application


def save_draft(application: Application, values: dict[str, str], now: dt.datetime) -> None:
    if application.status not in state.EDITABLE:
        raise ApplicationRefused(409, "This application was submitted and can no longer change.")
    application.form = values
    application.updated_at = now


def submit(dbsession, plugin, application: Application, cleaned: dict[str, str], clock: Clock):
    """Issue the bill for ``application`` at the fee in force on ``clock``'s day and await
    payment."""
    today = clock.today()
    if application.status not in state.EDITABLE:
        raise ApplicationRefused(409, "This application was already submitted.")
    try:
        lines = plugin.fee(dbsession, cleaned, today)
    except LookupError:
        log.error("no fee in force for %s on %s", plugin.info.code, today)
        raise ApplicationRefused(
            503, "The fee for this service is not set yet. Your draft is kept; try again later."
        ) from None
    application.form = cleaned
    application.submitted_at = clock.now()
    bill = issue_bill(
        dbsession,
        service=application.service,
        number=f"APP-{application.id:08d}",
        description=plugin.info.name.interpolate(),
        due_date=today + dt.timedelta(days=PAYMENT_DAYS),
        lines=lines,
        payer_user=application.applicant,
    )
    application.bill = bill
    if not state.transition(
        dbsession,
        application,
        state.AWAITING_PAYMENT,
        "",
        actor=application.applicant,
        now=application.submitted_at,
    ):
        raise ApplicationRefused(409, "This application was already submitted.")
    return bill


def settled_payment(dbsession, bill_id: int) -> tuple[Payment, PaymentAllocation] | None:
    """The payment that paid ``bill_id`` (the most recent one settled)."""
    row = dbsession.execute(
        select(Payment, PaymentAllocation)
        .join(PaymentAllocation)
        .where(PaymentAllocation.bill_id == bill_id, Payment.status.in_(payment_state.SETTLED))
        .order_by(Payment.settled_at.desc(), Payment.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def notice_payments(dbsession, applications: list[Application], now: dt.datetime) -> None:
    """Move applications whose bill the ledger shows paid into their department's queue.

    Called wherever applications are listed or shown, so it does not matter which way the
    payment was settled (notification, status query, the periodic job, the API).
    """
    waiting = [a for a in applications if a.status == state.AWAITING_PAYMENT and a.bill_id]
    if not waiting:
        return
    balances = ledger.bill_balances(dbsession, [a.bill_id for a in waiting])
    for application in waiting:
        if balances[application.bill_id] > 0 or application.bill.cancelled_at is not None:
            continue
        paid = settled_payment(dbsession, application.bill_id)
        state.transition(
            dbsession,
            application,
            state.IN_QUEUE,
            "",
            now=now,
            at=paid[0].settled_at if paid and paid[0].settled_at else None,
        )


def decide_approve(dbsession, application: Application, clerk, note: str, now: dt.datetime) -> None:
    if not state.transition(dbsession, application, state.APPROVED, note, clerk, now=now):
        raise ApplicationRefused(409, "Another clerk decided this application meanwhile.")
    application.decided_by = clerk
    application.decision_reason = note or None


def decide_reject(dbsession, application: Application, clerk, reason: str, now: dt.datetime):
    """Reject with ``reason`` and refund the fee; returns the refund to send after commit."""
    paid = settled_payment(dbsession, application.bill_id) if application.bill_id else None
    if not state.transition(dbsession, application, state.REJECTED, reason, clerk, now=now):
        raise ApplicationRefused(409, "Another clerk decided this application meanwhile.")
    application.decided_by = clerk
    application.decision_reason = reason
    if paid is None:
        log.warning("application %s rejected with no settled payment", application.public_id)
        return None
    payment, allocation = paid
    amount = min(allocation.amount_minor - allocation.refunded_minor, payment.refundable.minor)
    if amount <= 0:
        log.warning("application %s: fee already refunded", application.public_id)
        return None
    refund = request_refund(
        dbsession,
        payment,
        {application.bill_id: Money(amount, payment.currency)},
        payment.refundable,
        f"Application rejected: {reason}",
        clerk,
    )
    application.refund = refund
    return refund
