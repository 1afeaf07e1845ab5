"""A bid's money as its bidder sees it after the opening: the fee, the security deposit (held,
given back with its refund, or forfeited with the reason) and the fees of the organisation's
complaints, each with the receipts and credit notes of its payment and refunds.

Read from the billing core (bills' statuses, deposits, refunds) and from the receipts the
portal issued for those payments; the links go to the same receipt downloads and payment
pages as the payer's own bills and payments pages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from portal.billing import settling_payment, with_status
from portal.billing.models import Bill, Deposit, Refund, RefundLine
from portal.i18n import _
from portal.money import Money
from portal.procurement.local_times import local_time
from portal.procurement.models import Bid, Complaint
from portal.receipts.models import RECEIPT, Receipt
from portal.templating import format_day

#: a deposit's status on the billing core
HELD = "held"
RELEASED = "released"
FORFEITED = "forfeited"


@dataclass(frozen=True)
class Paper:
    """A receipt or credit note: ``url`` is None while its PDF is being prepared."""

    number: str
    title: str
    url: str | None


@dataclass(frozen=True)
class Refunded:
    amount: Money
    #: the refund's status code (the ``refund_status`` template global names it)
    status: str
    at: dt.datetime


@dataclass(frozen=True)
class Charge:
    """One sum of the bid: ``kind`` fee, deposit or complaint_fee; ``status`` its bill's
    status, or a lodged deposit's (held, released, forfeited) with its ``label``."""

    kind: str
    title: str
    amount: Money
    status: str
    #: None for a bill's status (the ``bill_status`` template global names it)
    label: str | None
    bill: Bill
    lines: tuple[str, ...]
    refunds: tuple[Refunded, ...]
    papers: tuple[Paper, ...]
    payment_url: str | None


_DEPOSIT_LABELS = {
    HELD: _("Held for you"),
    RELEASED: _("Given back"),
    FORFEITED: _("Forfeited"),
}


def bid_money(request, bid: Bid) -> list[Charge]:
    """The fee, the deposit and every complaint fee of ``bid``, in that order."""
    dbsession = request.dbsession
    complaints = list(
        dbsession.scalars(
            select(Complaint)
            .where(Complaint.bid_id == bid.id, Complaint.fee_bill_id.is_not(None))
            .order_by(Complaint.filed_at, Complaint.id)
        )
    )
    bills = [
        bill
        for bill in (
            bid.fee_bill,
            bid.deposit.bill if bid.deposit else None,
            *(complaint.fee_bill for complaint in complaints),
        )
        if bill is not None
    ]
    if not bills:
        return []
    views = {view.bill.id: view for view in with_status(dbsession, bills)}
    translate = request.localizer.translate
    found = []
    if bid.fee_bill is not None:
        found.append(_charge(request, "fee", translate(_("Bid fee")), views[bid.fee_bill.id], ()))
    if bid.deposit is not None:
        found.append(_deposit(request, bid.deposit, views[bid.deposit.bill.id]))
    for complaint in complaints:
        assert complaint.fee_bill is not None
        title = translate(
            _(
                "Complaint fee (complaint of ${day})",
                mapping={
                    "day": format_day(
                        request, complaint.filed_at.astimezone(request.clock.timezone).date()
                    )
                },
            )
        )
        found.append(_charge(request, "complaint_fee", title, views[complaint.fee_bill.id], ()))
    return found


def _deposit(request, deposit: Deposit, view) -> Charge:
    translate = request.localizer.translate
    title = translate(_("Bid security (deposit)"))
    if not view.settled and deposit.status == HELD:
        return _charge(request, "deposit", title, view, ())
    lines: tuple[str, ...] = ()
    if deposit.status == RELEASED and deposit.closed_at is not None:
        lines = (
            translate(
                _(
                    "Given back ${when}: ${reason}",
                    mapping={
                        "when": local_time(request, deposit.closed_at),
                        "reason": deposit.close_reason or "",
                    },
                )
            ),
        )
    elif deposit.status == FORFEITED and deposit.closed_at is not None:
        lines = (
            translate(
                _(
                    "Forfeited ${when}: ${reason}",
                    mapping={
                        "when": local_time(request, deposit.closed_at),
                        "reason": deposit.close_reason or "",
                    },
                )
            ),
        )
    else:
        lines = (
            translate(
                _(
                    "Given back to every bidder but the winner at the award, and to the "
                    "winner once the contract is signed; kept if the winner refuses to sign."
                )
            ),
        )
    charge = _charge(request, "deposit", title, view, lines)
    return Charge(
        kind=charge.kind,
        title=charge.title,
        amount=deposit.amount,
        status=deposit.status,
        label=translate(_DEPOSIT_LABELS.get(deposit.status, _DEPOSIT_LABELS[HELD])),
        bill=charge.bill,
        lines=charge.lines,
        refunds=charge.refunds,
        papers=charge.papers,
        payment_url=charge.payment_url,
    )


def _charge(request, kind: str, title: str, view, lines: tuple[str, ...]) -> Charge:
    """A bill as a charge, with the payment that settled it, its receipt, and the refunds
    made on it with their credit notes."""
    dbsession = request.dbsession
    bill = view.bill
    paid = settling_payment(dbsession, bill.id)
    payment = paid[0] if paid is not None else None
    refunds = list(
        dbsession.scalars(
            select(Refund)
            .join(RefundLine, RefundLine.refund_id == Refund.id)
            .where(RefundLine.bill_id == bill.id)
            .order_by(Refund.created_at, Refund.id)
        )
    )
    papers = []
    if payment is not None:
        wanted = [refund.id for refund in refunds]
        query = select(Receipt).where(
            Receipt.payment_id == payment.id,
            (Receipt.kind == RECEIPT) | Receipt.refund_id.in_(wanted),
        )
        translate = request.localizer.translate
        for receipt in dbsession.scalars(query.order_by(Receipt.id)):
            papers.append(
                Paper(
                    receipt.number,
                    translate(_("Receipt") if receipt.kind == RECEIPT else _("Credit note")),
                    (
                        request.route_path("receipt_pdf", number=receipt.number)
                        if receipt.sha256 is not None
                        else None
                    ),
                )
            )
    return Charge(
        kind=kind,
        title=title,
        amount=bill.total,
        status=view.status,
        label=None,
        bill=bill,
        lines=lines,
        refunds=tuple(
            Refunded(
                Money(
                    sum(line.amount_minor for line in refund.lines if line.bill_id == bill.id),
                    refund.currency,
                ),
                refund.status,
                refund.created_at,
            )
            for refund in refunds
        ),
        papers=tuple(papers),
        payment_url=(
            request.route_path("payment", public_id=payment.public_id) if payment else None
        ),
    )
