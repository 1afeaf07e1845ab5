"""Refunds as the rest of the portal asks for them: recorded, and sent to the provider once the
transaction commits, so no caller can record one and forget to send it. A clerk's refund
above the department's four-eyes threshold waits for a second clerk instead
(:mod:`portal.billing.approvals`): its money is reserved at once, and only the approval sends
it.

Here rather than in :mod:`portal.billing.payments` because sending is a job
(:mod:`portal.billing.tasks`), and the jobs apply payments.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from functools import partial

from babel.lists import format_list
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.billing import approvals, events, state
from portal.billing.matching import BANK
from portal.billing.models import ApprovalRequest, Bill, Payment, Refund
from portal.billing.payments import (
    Payee,
    check_payee,
    lock_payment,
    record_refund,
    refundable_on_bill,
)
from portal.billing.tasks import send_refund_after_commit
from portal.catalogue.models import Service
from portal.clock import clock
from portal.db import registry_of
from portal.i18n import _
from portal.identity.models import Department
from portal.localized import message_in
from portal.money import Money, babel_locale
from portal.refusals import INVALID, Refusal

log = logging.getLogger(__name__)

#: the kind of approval request a refund above the threshold is
REFUND = "refund"


def request_refund(
    dbsession: Session,
    payment: Payment,
    amounts: Mapping[int, Money],
    seen_refundable: Money,
    reason: str,
    clerk=None,
) -> Refund:
    """Refund ``amounts`` (bill id -> money) of ``payment``, asked for by ``clerk`` who saw
    ``seen_refundable`` as still refundable (a :class:`~portal.refusals.Refusal` if it may not
    be made); sent to the provider once the transaction commits."""
    refund = record_refund(dbsession, payment, amounts, seen_refundable, reason, clerk)
    send_refund_after_commit(dbsession, refund)
    return refund


def refund_bill(dbsession: Session, bill: Bill, reason: str, clerk=None) -> Refund | None:
    """Give back in full what the payment that settled ``bill`` can still give back on it;
    None if there is nothing to give back (never paid, or already refunded or being so).

    No four-eyes threshold here, on purpose: this is for refunds the rules decide (an upheld
    or lapsed complaint's fee), not a clerk's discretion. A clerk's refund, or a decision
    that refunds (an application's cancellation or rejection), goes through
    :func:`refund_bill_as_clerk` or :func:`refund_as_clerk`, where the threshold is applied."""
    found = refundable_on_bill(dbsession, bill.id)
    if found is None:
        return None
    payment, amount = found
    return request_refund(dbsession, payment, {bill.id: amount}, payment.refundable, reason, clerk)


def refund_bill_as_clerk(
    dbsession: Session, bill: Bill, reason: str, clerk, kind: str = REFUND
) -> tuple[Refund | None, ApprovalRequest | None]:
    """:func:`refund_bill` as a clerk asks it: within the department's threshold the refund
    is sent (no approval request), above it the refund awaits the approval request opened as
    ``kind``. (None, None) if there is nothing to give back."""
    found = refundable_on_bill(dbsession, bill.id)
    if found is None:
        return None, None
    payment, amount = found
    payment = lock_payment(dbsession, payment.id)
    department = bill.service.department
    if not needs_approval_on_payment(dbsession, department, payment, amount):
        refund = request_refund(
            dbsession, payment, {bill.id: amount}, payment.refundable, reason, clerk
        )
        return refund, None
    refund = record_refund(
        dbsession,
        payment,
        {bill.id: amount},
        payment.refundable,
        reason,
        clerk,
        status=state.REFUND_AWAITING_APPROVAL,
    )
    return refund, ask_approval_of_refund(dbsession, refund, department, clerk, kind)


def refund_department(dbsession: Session, bill_ids) -> Department:
    """The one department whose bills a refund gives money back on. A refund on bills of
    several departments would need each one's approval, so it is refused: refund each
    department's bills on their own."""
    departments = list(
        dbsession.scalars(
            select(Department)
            .join(Service, Service.department_id == Department.id)
            .join(Bill, Bill.service_id == Service.id)
            .where(Bill.id.in_(list(bill_ids)))
            .distinct()
        )
    )
    if len(departments) != 1:
        raise Refusal(
            INVALID,
            _(
                "These bills belong to several departments, each with its own approval: "
                "refund each department's bills separately."
            ),
        )
    return departments[0]


def refund_approver(
    dbsession: Session,
    payment: Payment,
    amounts: Mapping[int, Money],
    payee: Payee | None = None,
) -> Department | None:
    """The department whose second clerk must approve refunding ``amounts`` (bill id ->
    money) of ``payment``, or None if it and what the payment already gave back or holds for
    refunds are within the threshold. Sending a bank refund to another account than the
    money came from (``payee``, checked) always needs a second clerk: it is how money would
    be diverted."""
    # bills of another payment are refused by check_refund, with its own message
    own = {allocation.bill_id for allocation in payment.allocations} & set(amounts)
    if not own:
        return None
    department = refund_department(dbsession, own)
    if payee is not None:
        return department
    total = Money(sum(amount.minor for amount in amounts.values()), payment.currency)
    return department if needs_approval_on_payment(dbsession, department, payment, total) else None


def needs_approval_on_payment(
    dbsession: Session, department: Department, payment: Payment, amount: Money
) -> bool:
    """Whether refunding ``amount`` more of ``payment`` needs a second clerk: what it already
    gave back or holds for refunds (``refunded_minor``) counts with it, so splitting a refund
    into pieces each within the threshold needs the approval the whole would."""
    settings = registry_of(dbsession).settings
    so_far = Money(payment.refunded_minor + amount.minor, amount.currency)
    return approvals.needs_approval(settings, department, so_far)


def refund_as_clerk(
    dbsession: Session,
    payment: Payment,
    amounts: Mapping[int, Money],
    seen_refundable: Money,
    reason: str,
    clerk,
    payee: Payee | None = None,
) -> Refund:
    """A clerk's refund: sent at once (:func:`request_refund`) if it is within its
    department's four-eyes threshold, else recorded awaiting a second clerk's approval, its
    money reserved and nothing sent. A bank transfer's refund goes back to the account the
    money came from, or to ``payee``'s (another account, with the reason)."""
    # locked first: two clerks each refunding a piece at once must see each other's piece
    payment = lock_payment(dbsession, payment.id)
    payee = check_payee(dbsession, payment, payee)
    department = refund_approver(dbsession, payment, amounts, payee)
    if department is None:
        refund = record_refund(
            dbsession, payment, amounts, seen_refundable, reason, clerk, payee=payee
        )
        send_refund_after_commit(dbsession, refund)
        return refund
    refund = record_refund(
        dbsession,
        payment,
        amounts,
        seen_refundable,
        reason,
        clerk,
        status=state.REFUND_AWAITING_APPROVAL,
        payee=payee,
    )
    ask_approval_of_refund(dbsession, refund, department, clerk, REFUND)
    return refund


def ask_approval_of_refund(
    dbsession: Session, refund: Refund, department: Department, clerk, kind: str
) -> ApprovalRequest:
    """Open the request for a second clerk to approve ``refund`` (recorded awaiting approval)
    as ``kind`` (a refund, or what a feature gives it for, such as a cancellation)."""
    return approvals.open_approval(
        dbsession,
        kind=kind,
        department=department,
        subject=refund.public_id,
        describe=partial(_refund_description, refund),
        amount=refund.amount,
        reason=refund.reason,
        clerk=clerk,
        now=clock(registry_of(dbsession)).now(),
    )


def _refund_description(refund: Refund, locale: str) -> str:
    """What goes back on which bill, as the clerk chose it, written for a reader of
    ``locale`` (its amounts and its list as that language writes them)."""
    bills = [
        message_in(
            locale,
            _(
                "bill ${number} ${amount}",
                mapping={"number": line.bill.number, "amount": line.amount.format(locale)},
            ),
        )
        for line in refund.lines
    ]
    return message_in(
        locale,
        _(
            "Refund of payment ${payment}: ${bills}",
            mapping={
                "payment": refund.payment.public_id,
                "bills": format_list(bills, locale=babel_locale(locale)),
            },
        ),
    )


def awaiting_refund(dbsession: Session, public_id: str) -> Refund:
    """The refund awaiting approval named ``public_id``, its payment locked (its reservation
    changes with the decision)."""
    refund = dbsession.scalar(select(Refund).where(Refund.public_id == public_id))
    if refund is None:
        raise LookupError(public_id)
    lock_payment(dbsession, refund.payment_id)
    dbsession.refresh(refund)
    return refund


def release_refund(dbsession: Session, public_id: str, cause: str, now: dt.datetime) -> Refund:
    """A second clerk approved the refund: it is sent to the provider once this commits (a
    bank transfer's waits to be exported in a credit-transfer file instead)."""
    refund = awaiting_refund(dbsession, public_id)
    by_bank = refund.payment.provider == BANK
    to = state.REFUND_TO_TRANSFER if by_bank else state.REFUND_REQUESTED
    state.transition_refund(refund, to, cause, now)
    dbsession.flush()
    send_refund_after_commit(dbsession, refund)
    log.info("refund %s approved: %s", refund.public_id, to)
    return refund


def drop_refund(dbsession: Session, public_id: str, cause: str, now: dt.datetime) -> Refund:
    """A second clerk rejected the refund (or the one who asked withdrew it): the money it
    reserved can be refunded again."""
    refund = awaiting_refund(dbsession, public_id)
    state.transition_refund(refund, state.REFUND_REJECTED, cause, now)
    refund.payment.refunded_minor -= refund.amount_minor
    dbsession.flush()
    log.info("refund %s rejected by the second clerk", refund.public_id)
    return refund


def carry_out_refund_decision(
    dbsession: Session, approval: ApprovalRequest, now: dt.datetime
) -> Refund:
    """Send or drop the refund ``approval`` (just decided, or withdrawn) is about."""
    cause = f"{approval.status} by user {approval.decided_by_id or approval.requested_by_id}"
    if approval.status == approvals.APPROVED:
        return release_refund(dbsession, approval.subject, cause, now)
    return drop_refund(dbsession, approval.subject, cause, now)


class RefundApproval:
    """A clerk's refund above the threshold."""

    code = REFUND
    label = _("Refund")

    def requested(self, dbsession: Session, approval: ApprovalRequest) -> None:
        events.announce(events.ApprovalRequested(approval, dbsession))

    def decided(self, dbsession: Session, approval: ApprovalRequest, now: dt.datetime) -> None:
        carry_out_refund_decision(dbsession, approval, now)
        events.announce(events.ApprovalDecided(approval, dbsession))

    def subject_path(self, request, approval: ApprovalRequest) -> str | None:
        refund = request.dbsession.scalar(
            select(Refund).where(Refund.public_id == approval.subject)
        )
        return request.route_path("backoffice_payment", public_id=refund.payment.public_id)
