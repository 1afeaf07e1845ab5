"""Contexts for billing pages: a bill or a payment, readable by its payer (the person, or the
representatives of the paying organisation) and by the clerks of the owning department."""

from __future__ import annotations

from functools import cached_property

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPNotFound
from sqlalchemy import bindparam, select
from sqlalchemy.orm import object_session

from portal.billing.models import ApprovalRequest, Bill, Payment, PaymentAllocation
from portal.billing.payments import lock_rows
from portal.catalogue.models import Service
from portal.db import Prebuilt
from portal.security import (
    ROLE_ADMIN,
    ROLE_CLERK,
    department_principal,
    organisation_principal,
    user_principal,
)


class PaymentContext:
    def __init__(self, payment: Payment, locked: bool = False):
        self.payment = payment
        #: whether ``payment`` was locked and read afresh for this transaction (a POST)
        self.locked = locked

    @cached_property
    def departments(self) -> set[int]:
        """The departments whose services this payment paid, in one query (the ACL is read
        for every permission check, and a receipt download makes one)."""
        query = (
            select(Service.department_id)
            .join(Bill, Bill.service_id == Service.id)
            .join(PaymentAllocation, PaymentAllocation.bill_id == Bill.id)
            .where(PaymentAllocation.payment_id == self.payment.id)
            .distinct()
        )
        return set(object_session(self.payment).scalars(query))

    @property
    def __acl__(self):
        """Read entry by entry: the payer's entries come first, so the payer's own request
        is allowed before the departments are looked up."""
        if self.payment.payer_user_id is not None:
            yield (Allow, user_principal(self.payment.payer_user_id), "view")
            yield (Allow, user_principal(self.payment.payer_user_id), "pay")
        yield (Allow, ROLE_ADMIN, "view")
        yield (Allow, ROLE_ADMIN, "refund")
        if self.payment.payer_organisation_id is not None:
            yield (Allow, organisation_principal(self.payment.payer_organisation_id), "view")
        departments = set(self.departments)
        for department in departments:
            yield (Allow, department_principal(department), "view")
        if len(departments) == 1:
            # A refund gives back the whole payment's money: a department's clerks may refund
            # only payments wholly for their own services; mixed ones go to an administrator.
            yield (Allow, department_principal(departments.pop()), "refund")


_BY_PUBLIC_ID = Prebuilt(
    lambda dialect: select(Payment).where(Payment.public_id == bindparam("public_id"))
)
_LOCK_BY_PUBLIC_ID = Prebuilt(
    lambda dialect: lock_rows(select(Payment).where(Payment.public_id == bindparam("public_id")))
)


def payment_factory(request) -> PaymentContext:
    public_id = request.matchdict["public_id"]
    if len(public_id) != 32:
        raise HTTPNotFound()
    # A POST changes the payment (checkout, cancel, refund...): locked as it is read, rather
    # than read, then locked and read again.
    locked = request.method == "POST"
    dbsession = request.dbsession
    query = _LOCK_BY_PUBLIC_ID if locked else _BY_PUBLIC_ID
    payment = dbsession.scalar(query(dbsession), {"public_id": public_id})
    if payment is None:
        raise HTTPNotFound()
    return PaymentContext(payment, locked)


class ApprovalContext:
    """A request for a second clerk's approval: its department's clerks read it. Any clerk
    may send a decision, so that one of another department is told plainly why it is refused
    (:func:`portal.billing.approvals.check_decider` holds the rules)."""

    def __init__(self, approval: ApprovalRequest):
        self.approval = approval

    @property
    def __acl__(self):
        return [
            (Allow, department_principal(self.approval.department_id), "work"),
            (Allow, ROLE_CLERK, "decide"),
            (Allow, ROLE_ADMIN, "decide"),
        ]


def approval_factory(request) -> ApprovalContext:
    public_id = request.matchdict["approval"]
    approval = None
    if len(public_id) == 32:
        approval = request.dbsession.scalar(
            select(ApprovalRequest).where(ApprovalRequest.public_id == public_id)
        )
    if approval is None:
        raise HTTPNotFound()
    return ApprovalContext(approval)


class DepartmentBillContext:
    """A bill as the clerks of its service's department work it (writing it off)."""

    def __init__(self, bill: Bill):
        self.bill = bill

    @property
    def __acl__(self):
        return [(Allow, department_principal(self.bill.service.department_id), "work")]


def department_bill_factory(request) -> DepartmentBillContext:
    public_id = request.matchdict["bill"]
    bill = None
    if len(public_id) == 32:
        bill = request.dbsession.scalar(select(Bill).where(Bill.public_id == public_id))
    if bill is None:
        raise HTTPNotFound()
    return DepartmentBillContext(bill)
