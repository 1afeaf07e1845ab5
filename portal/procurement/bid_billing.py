"""A bid's fee and security deposit, billed to the bidding organisation on the billing core.

Both are bills of the Public Procurement Office (department ``procurement``) under two
services of their own: the fee is the department's revenue (``revenue:tender-bid-fee``), the
deposit is held on the ledger's liability account (``deposits:tender-bid-security``) until it
is released or forfeited. The services are registered like every other service
(``config.add_public_service``, rows made by ``portal-sync-services``) but marked unlisted:
nobody applies for a bid fee from the citizens' catalogue. Should the rows not exist yet when a
bid is started, they are made then, as the sync would make them.

A zero fee or deposit is no bill at all. The bills are paid through the portal's ordinary pay
flow (the bills page's ``pay`` form), by any representative of the organisation.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.billing import (
    PAYMENT_IN_PROGRESS,
    BillLineInput,
    BillView,
    cancel_bill,
    hold_deposit,
    issue_bill,
    release_deposit,
    with_status,
)
from portal.billing.models import Bill, Payment, PaymentAllocation
from portal.catalogue.interfaces import ServiceInfo
from portal.catalogue.models import Service
from portal.i18n import _
from portal.identity.models import Department
from portal.localized import texts
from portal.procurement.models import Bid
from portal.refusals import Refusal
from portal.services.catalogue import BilledByTheOffice

log = logging.getLogger(__name__)

PROCUREMENT_DEPARTMENT = "procurement"
PROCUREMENT_DEPARTMENT_NAME = _("Public Procurement Office")
#: the kind of the two services: billed by a tender, never applied for
PROCUREMENT = "procurement"

BID_FEE = BilledByTheOffice(
    ServiceInfo(
        code="tender-bid-fee",
        name=_("Tender bid fee"),
        description=_("The fee a tender asks of each organisation that bids on it."),
        department_code=PROCUREMENT_DEPARTMENT,
        kind=PROCUREMENT,
        listed=False,
    )
)
BID_SECURITY = BilledByTheOffice(
    ServiceInfo(
        code="tender-bid-security",
        name=_("Tender bid security"),
        description=_(
            "The deposit a tender asks of each bidder, held for them and given back when the "
            "bid is withdrawn before the deadline, the tender is cancelled or it is awarded."
        ),
        department_code=PROCUREMENT_DEPARTMENT,
        kind=PROCUREMENT,
        listed=False,
    )
)


def service_row(dbsession, info: ServiceInfo) -> Service:
    """The ``service`` row of ``info``, made (with its department) if the sync has not made it
    yet; two requests making it at once both end with the one row."""
    found = dbsession.scalar(select(Service).where(Service.code == info.code))
    if found is not None:
        return found
    department = dbsession.scalar(select(Department).where(Department.code == info.department_code))
    try:
        with dbsession.begin_nested():
            if department is None:
                name, translations = texts(PROCUREMENT_DEPARTMENT_NAME)
                department = Department(
                    code=info.department_code, name=name, name_translations=translations
                )
                dbsession.add(department)
            dbsession.add(
                Service(code=info.code, name=info.name.interpolate(), department=department)
            )
            dbsession.flush()
    except IntegrityError:
        pass
    return dbsession.scalars(select(Service).where(Service.code == info.code)).one()


def _due_date(bid: Bid, timezone) -> dt.date:
    """The deadline's day, in the portal's timezone: pay by then or the bid cannot go in."""
    deadline = bid.tender.bids_until
    assert deadline is not None
    return deadline.astimezone(timezone).date()


def bill_bid(dbsession, bid: Bid, *, now: dt.datetime, timezone) -> None:
    """Bill ``bid``'s organisation the tender's fee and deposit, each once and only if not
    zero. Numbers read as the tender's reference, what it is and the bid: T-2027-000012-FEE-7."""
    tender = bid.tender
    due = _due_date(bid, timezone)
    mapping = {"reference": tender.reference, "title": tender.title}
    if tender.bid_fee_minor > 0 and bid.fee_bill is None:
        description = _("Bid fee, tender ${reference}: ${title}", mapping=mapping)
        bid.fee_bill = issue_bill(
            dbsession,
            service=service_row(dbsession, BID_FEE.info),
            number=f"{tender.reference}-FEE-{bid.id}",
            description=description,
            due_date=due,
            lines=[BillLineInput(description, tender.bid_fee)],
            payer_organisation=bid.organisation,
        )
    if tender.deposit_minor > 0 and bid.deposit is None:
        description = _("Bid security, tender ${reference}: ${title}", mapping=mapping)
        bid.deposit = hold_deposit(
            dbsession,
            service=service_row(dbsession, BID_SECURITY.info),
            number=f"{tender.reference}-DEP-{bid.id}",
            description=description,
            due_date=due,
            amount=tender.deposit,
            now=now,
            payer_organisation=bid.organisation,
        )
    dbsession.flush()


@dataclass(frozen=True)
class BidCharges:
    """What a bid has to pay, as the ledger has it: ``None`` where the tender asks nothing."""

    fee: BillView | None
    deposit: BillView | None

    @property
    def bills(self) -> list[BillView]:
        return [view for view in (self.fee, self.deposit) if view is not None]

    @property
    def settled(self) -> bool:
        """Everything asked is paid: the bid may be submitted."""
        return all(view.settled for view in self.bills)

    @property
    def payable(self) -> list[Bill]:
        return [view.bill for view in self.bills if view.payable]


def charges_of(dbsession, bid: Bid) -> BidCharges:
    bills = [bill for bill in (bid.fee_bill, bid.deposit.bill if bid.deposit else None) if bill]
    views = {view.bill.id: view for view in with_status(dbsession, bills)} if bills else {}
    return BidCharges(
        fee=views.get(bid.fee_bill.id) if bid.fee_bill else None,
        deposit=views.get(bid.deposit.bill.id) if bid.deposit else None,
    )


#: a deposit the authority still holds (:mod:`portal.billing`'s deposit status)
HELD = "held"


def _being_paid(dbsession, bill: Bill) -> bool:
    """Is a payment of ``bill`` under way at the provider? Its outcome is not known yet."""
    found = dbsession.scalar(
        select(Payment.id)
        .join(PaymentAllocation)
        .where(PaymentAllocation.bill_id == bill.id, Payment.status.in_(PAYMENT_IN_PROGRESS))
        .limit(1)
    )
    return found is not None


def close_charges(dbsession, bid: Bid, reason: str, now: dt.datetime, actor=None) -> bool:
    """Settle what ``bid`` still has open because it will never be opened (the tender was
    cancelled, or the bid was not submitted by the deadline): give back a deposit lodged and
    still held, cancel the fee and deposit bills not paid. A paid fee stays paid: it is the
    department's revenue. A bill with a payment under way is left as it is, so that the
    payment lands on a live bill; returns False then, and the caller comes back once it has
    settled or failed.

    The deposit is locked before it is looked at, so a withdrawal or a cancellation at the
    same moment closes it once. Should the deposit not be given back (released meanwhile, or
    not lodged by one payment), that is logged for a clerk and the rest goes on: one bid's
    deposit never holds back the others."""
    done = True
    deposit = bid.deposit
    if deposit is not None:
        dbsession.refresh(deposit, with_for_update=True)
        if deposit.status == HELD:
            (view,) = with_status(dbsession, [deposit.bill])
            if view.settled:
                try:
                    with dbsession.begin_nested():
                        release_deposit(dbsession, deposit, reason, now, actor)
                except Refusal:
                    log.warning(
                        "deposit %s of bid %s not given back: a clerk must look at it",
                        deposit.public_id,
                        bid.public_id,
                    )
            elif view.payable:
                done = _cancel_unless_paying(dbsession, deposit.bill, reason, now) and done
    if bid.fee_bill is not None:
        (view,) = with_status(dbsession, [bid.fee_bill])
        if view.payable:
            done = _cancel_unless_paying(dbsession, bid.fee_bill, reason, now) and done
    dbsession.flush()
    return done


def _cancel_unless_paying(dbsession, bill: Bill, reason: str, now: dt.datetime) -> bool:
    if _being_paid(dbsession, bill):
        return False
    try:
        with dbsession.begin_nested():
            cancel_bill(dbsession, bill, reason, now)
    except Refusal:  # cancelled meanwhile by a concurrent request: as wanted
        pass
    return True


def includeme(config) -> None:
    config.add_public_service(BID_FEE)
    config.add_public_service(BID_SECURITY)
