"""Clerks' view of payments: a department's recent payments, and one payment in full."""

from __future__ import annotations

from pyramid.view import view_config
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from portal.billing import approvals, state
from portal.billing.matching import BANK, origin_account
from portal.billing.models import ApprovalRequest, Bill, Payment, PaymentAllocation, Refund
from portal.billing.payments import can_refund, refund_shares
from portal.billing.transfer import printed_iban
from portal.catalogue.models import Service
from portal.identity.assurance import CLERK
from portal.identity.models import User
from portal.money import Money

#: how many of a department's most recent payments the page lists
PAYMENTS_SHOWN = 100
ATTENTION_SHOWN = 100
#: what a payment row needs beside the payment: its payer and its bills with their services
ROW_DETAILS = (
    selectinload(Payment.payer_user),
    selectinload(Payment.payer_organisation),
    selectinload(Payment.allocations)
    .selectinload(PaymentAllocation.bill)
    .selectinload(Bill.service),
)


def _of_department(department_id: int):
    return (
        select(PaymentAllocation.payment_id)
        .join(Bill, PaymentAllocation.bill_id == Bill.id)
        .join(Service, Bill.service_id == Service.id)
        .where(Service.department_id == department_id)
    )


def _matching(search: str):
    """Payments whose own reference, or one of whose bills' number or RF reference, is
    ``search`` (RF references as printed, with spaces, are accepted)."""
    compact = search.replace(" ", "").upper()
    by_bill = (
        select(PaymentAllocation.payment_id)
        .join(Bill, PaymentAllocation.bill_id == Bill.id)
        .where(or_(Bill.number == search, Bill.reference == compact))
    )
    return or_(Payment.public_id == search.lower(), Payment.id.in_(by_bill))


@view_config(
    route_name="backoffice_department_payments",
    renderer="billing/backoffice/payments.jinja2",
    permission="work",
    assurance=CLERK,
)
def department_payments(context, request):
    """Recent payments of the department's services, searchable, and those needing a clerk:
    each with its payer, its bills and their services, so a clerk finds one without opening it."""
    department = context.department
    search = request.GET.get("q", "").strip()[:64]
    status = request.GET.get("status", "")
    if status not in state.TRANSITIONS:
        status = ""
    mine = Payment.id.in_(_of_department(department.id))
    query = select(Payment).where(mine).options(*ROW_DETAILS)
    if search:
        query = query.where(_matching(search))
    if status:
        query = query.where(Payment.status == status)
    newest = (Payment.created_at.desc(), Payment.id.desc())
    payments = list(request.dbsession.scalars(query.order_by(*newest).limit(PAYMENTS_SHOWN)))
    attention = list(
        request.dbsession.scalars(
            select(Payment)
            .where(mine, Payment.needs_attention.is_not(None))
            .options(*ROW_DETAILS)
            .order_by(*newest)
            .limit(ATTENTION_SHOWN)
        )
    )
    return {
        "department": department,
        "payments": payments,
        "attention": attention,
        "search": search,
        "status": status,
        "statuses": list(state.TRANSITIONS),
        "limit": PAYMENTS_SHOWN,
    }


def _awaiting_approval(dbsession, refunds: list[Refund]) -> list[ApprovalRequest]:
    """The open requests for a second clerk's approval of these refunds (a refund's own, or
    a cancellation's that gives money back through it)."""
    waiting = [r.public_id for r in refunds if r.status == state.REFUND_AWAITING_APPROVAL]
    if not waiting:
        return []
    return list(
        dbsession.scalars(
            select(ApprovalRequest).where(
                ApprovalRequest.subject.in_(waiting),
                ApprovalRequest.status == approvals.AWAITING,
            )
        )
    )


def payment_values(request, payment: Payment, errors=None, row_typed=None, **form) -> dict:
    """What the clerk's payment page shows; ``form`` carries what the clerk typed back
    (``amounts`` by bill public id, ``reason``, a bank refund's ``iban`` and
    ``account_reason``), ``errors`` a refused form's errors by field id (``""``: of no
    field), ``row_typed`` what was typed in a refused bank refund row form, by field id.

    A bank transfer shows the account it came from, where its refunds go; an overpaid bill
    named by ``?surplus=`` (the payer view's "refund the credit") has its surplus filled in
    as the amount to refund on it."""
    refunds = list(
        request.dbsession.scalars(
            select(Refund)
            .where(Refund.payment_id == payment.id)
            .options(selectinload(Refund.lines))
            .order_by(Refund.id)
        )
    )
    clerk_ids = {refund.requested_by_id for refund in refunds if refund.requested_by_id}
    clerks = {
        user.id: user.display_name
        for user in request.dbsession.scalars(select(User).where(User.id.in_(clerk_ids)))
    }
    bills = {allocation.bill_id: allocation.bill for allocation in payment.allocations}
    shares = refund_shares(request.dbsession, payment)
    origin = origin_account(request.dbsession, payment) if payment.provider == BANK else ("", "")
    # reserved by refunds a second clerk has not approved yet: not refundable, not refunded
    awaiting = sum(
        (
            refund.amount_minor
            for refund in refunds
            if refund.status == state.REFUND_AWAITING_APPROVAL
        ),
        0,
    )
    return {
        "payment": payment,
        "bills": [
            {
                "share": share,
                "refunded": Money(allocation.refunded_minor, payment.currency),
            }
            for allocation, share in zip(payment.allocations, shares, strict=True)
        ],
        "bill_of": bills,
        "refunds": refunds,
        "clerks": clerks,
        "can_refund": can_refund(payment),
        "awaiting_approval": _awaiting_approval(request.dbsession, refunds),
        "awaiting_total": Money(awaiting, payment.currency),
        "form": {
            "amounts": _surplus_asked(request, payment, shares),
            "reason": "",
            "iban": origin[0],
            "account_reason": "",
            **form,
        },
        "errors": errors or {},
        "row_typed": row_typed or {},
        "by_bank": payment.provider == BANK,
        "origin": origin,
        "printed_iban": printed_iban,
    }


def _surplus_asked(request, payment: Payment, shares) -> dict[str, str]:
    """The amount field of the overpaid bill ``?surplus=`` names, filled with its surplus
    (what it was paid beyond its amount, as far as this payment can still give it back)."""
    wanted = request.GET.get("surplus", "")
    for share in shares:
        if share.bill.public_id == wanted and share.owed.minor < 0:
            amount = Money(min(-share.owed.minor, share.refundable.minor), payment.currency)
            if amount.minor > 0:
                return {wanted: str(amount.decimal())}
    return {}


@view_config(
    route_name="backoffice_payment",
    renderer="billing/backoffice/payment.jinja2",
    permission="refund",
    assurance=CLERK,
)
def payment_page(context, request):
    """A payment as a clerk sees it: the bills it paid, what happened, refunds so far.

    Only those who may refund it (the clerks of its bills' departments, administrators) see
    this page; the payer has their own."""
    return payment_values(request, context.payment)
