"""A complaint's fee, billed to the complaining organisation on the billing core.

The fee is the Public Procurement Office's revenue under a service of its own,
``tender-complaint-fee`` (unlisted, like the bid fee: nobody applies for it from the
catalogue). Its price is not the tender's to set: it comes from the fee schedule (item
``complaint``), with an effective date like every other fee, so the administrators change
it on the fees page (``fee_schedule=True`` lists it there) and a new price applies to
complaints filed from then on. No price in
force on the day of filing is a refusal that says so, never an error page.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.billing import PAYMENT_IN_PROGRESS, BillLineInput, cancel_bill, issue_bill, with_status
from portal.billing.models import Payment, PaymentAllocation
from portal.catalogue.interfaces import ServiceInfo
from portal.i18n import _
from portal.money import Money
from portal.procurement.bid_billing import PROCUREMENT, PROCUREMENT_DEPARTMENT, service_row
from portal.procurement.models import Complaint
from portal.refusals import UNAVAILABLE, Refusal
from portal.services.catalogue import BilledByTheOffice
from portal.services.fees import FeeNotFound, fee_for

COMPLAINT_FEE = BilledByTheOffice(
    ServiceInfo(
        code="tender-complaint-fee",
        name=_("Tender complaint fee"),
        description=_(
            "The fee for a complaint against a tender's award, refunded when the complaint "
            "is upheld."
        ),
        department_code=PROCUREMENT_DEPARTMENT,
        kind=PROCUREMENT,
        listed=False,
        fee_schedule=True,
    )
)
#: the fee schedule's item that prices a complaint
COMPLAINT_ITEM = "complaint"


def complaint_fee(dbsession, on: dt.date) -> Money:
    """The complaint fee in force ``on`` that day (the portal's local date of filing)."""
    try:
        return fee_for(dbsession, COMPLAINT_FEE.info.code, COMPLAINT_ITEM, on)
    except FeeNotFound:
        raise Refusal(
            UNAVAILABLE,
            _(
                "No complaint fee is in force today, so a complaint cannot be filed yet. "
                "Please tell the Public Procurement Office."
            ),
        ) from None


def bill_complaint(dbsession, complaint: Complaint, fee: Money, due: dt.date) -> None:
    """Bill ``complaint``'s organisation ``fee``, due on ``due`` (the standstill's last day);
    numbered by the tender, e.g. T-2027-000012-CMP-3."""
    tender = complaint.tender
    description = _(
        "Complaint fee, tender ${reference}: ${title}",
        mapping={"reference": tender.reference, "title": tender.title},
    )
    complaint.fee_bill = issue_bill(
        dbsession,
        service=service_row(dbsession, COMPLAINT_FEE.info),
        number=f"{tender.reference}-CMP-{complaint.id}",
        description=description,
        due_date=due,
        lines=[BillLineInput(description, fee)],
        payer_organisation=complaint.organisation,
    )
    dbsession.flush()


def fee_paid(dbsession, complaint: Complaint) -> bool:
    """Does the ledger show the complaint's fee paid in full?"""
    if complaint.fee_bill is None:
        return False
    (view,) = with_status(dbsession, [complaint.fee_bill])
    return view.settled


def being_paid(dbsession, complaint: Complaint) -> bool:
    """Is a payment of the fee under way at the provider? Its outcome is not known yet."""
    if complaint.fee_bill is None:
        return False
    found = dbsession.scalar(
        select(Payment.id)
        .join(PaymentAllocation)
        .where(
            PaymentAllocation.bill_id == complaint.fee_bill_id,
            Payment.status.in_(PAYMENT_IN_PROGRESS),
        )
        .limit(1)
    )
    return found is not None


def cancel_fee(dbsession, complaint: Complaint, reason: str, now: dt.datetime) -> None:
    """Cancel the fee's bill: it is no longer owed (the complaint lapsed unpaid, or the fee
    was refunded)."""
    bill = complaint.fee_bill
    if bill is not None and bill.cancelled_at is None:
        cancel_bill(dbsession, bill, reason, now)


def includeme(config) -> None:
    config.add_public_service(COMPLAINT_FEE)
