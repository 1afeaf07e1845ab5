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
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.billing import BillLineInput, BillView, hold_deposit, issue_bill, with_status
from portal.billing.models import Bill
from portal.catalogue.interfaces import ServiceInfo
from portal.catalogue.models import Service
from portal.i18n import _
from portal.identity.models import Department
from portal.procurement.models import Bid
from portal.services.catalogue import BilledByTheOffice

PROCUREMENT_DEPARTMENT = "procurement"
PROCUREMENT_DEPARTMENT_NAME = "Public Procurement Office"
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
                department = Department(code=info.department_code, name=PROCUREMENT_DEPARTMENT_NAME)
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
    if tender.bid_fee_minor > 0 and bid.fee_bill is None:
        description = f"Bid fee, tender {tender.reference}: {tender.title}"[:300]
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
        description = f"Bid security, tender {tender.reference}: {tender.title}"[:300]
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


def includeme(config) -> None:
    config.add_public_service(BID_FEE)
    config.add_public_service(BID_SECURITY)
