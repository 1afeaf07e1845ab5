"""Issuing and cancelling bills, and what a bill's status is (read from the ledger).

A bill written off (:mod:`portal.billing.writeoffs`) is owed nothing more and shows written
off; should a refund later make it owed again, it is to pay again like any bill, and should
money still land on it (a payment the provider confirms late), it shows overpaid, so that the
money is seen and given back rather than hidden under "written off"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import and_
from sqlalchemy.orm import Session

from portal.billing import events, ledger
from portal.billing.ledger import Line
from portal.billing.models import Bill, BillLine
from portal.billing.reference import creditor_reference
from portal.catalogue.interfaces import BillLineInput
from portal.i18n import _, pgettext
from portal.localized import texts
from portal.money import Money
from portal.refusals import CONFLICT, INVALID, Refusal

OPEN = "open"
PARTLY_PAID = "partly_paid"
PAID = "paid"
OVERPAID = "overpaid"
CANCELLED = "cancelled"
WRITTEN_OFF = "written_off"
STATUSES = (OPEN, PARTLY_PAID, PAID, OVERPAID, CANCELLED, WRITTEN_OFF)
LABELS = {
    OPEN: _("To pay"),
    PARTLY_PAID: _("Partly paid"),
    PAID: pgettext("bill state", "Paid"),
    OVERPAID: _("Overpaid"),
    CANCELLED: pgettext("bill state", "Cancelled"),
    WRITTEN_OFF: _("Written off"),
}


def issue_bill(
    dbsession: Session,
    *,
    service,
    number: str,
    description: str,
    due_date: dt.date,
    lines: list[BillLineInput],
    payer_user=None,
    payer_organisation=None,
    credit: tuple[str, str] | None = None,
    description_translations: Mapping[str, str] | None = None,
) -> Bill:
    """Create a bill and post what the payer now owes to the service (to ``credit``, the
    account and kind it is owed to, if not the service's revenue: a deposit's).

    ``description`` and the lines' may be catalogue messages: they are kept in every
    language the catalogues have (:func:`portal.localized.texts`), beside translations given
    in ``description_translations`` and the lines' own."""
    if (payer_user is None) == (payer_organisation is None):
        raise Refusal(
            INVALID,
            _("A bill has exactly one payer: a person or an organisation."),
            title=_("Invalid bill"),
        )
    if not lines:
        raise Refusal(INVALID, _("A bill needs at least one line."), title=_("Invalid bill"))
    currencies = {line.amount.currency for line in lines}
    if len(currencies) != 1:
        raise Refusal(
            INVALID, _("All lines of a bill are in one currency."), title=_("Invalid bill")
        )
    total = sum((line.amount for line in lines[1:]), lines[0].amount)
    if total.minor <= 0 or any(line.amount.minor <= 0 for line in lines):
        raise Refusal(INVALID, _("Bill lines must be positive amounts."), title=_("Invalid bill"))
    description, translations = texts(description, description_translations)
    bill = Bill(
        service=service,
        number=number,
        description=description,
        description_translations=translations,
        due_date=due_date,
        currency=total.currency,
        total_minor=total.minor,
        payer_user=payer_user,
        payer_organisation=payer_organisation,
        lines=[_line(i, line) for i, line in enumerate(lines)],
    )
    dbsession.add(bill)
    dbsession.flush()
    bill.reference = creditor_reference(f"P{bill.id:09d}")
    receivable, kind = ledger.receivable_account(bill)
    revenue, revenue_kind = credit or ledger.revenue_account(service.code)
    ledger.append(
        dbsession,
        "bill_issued",
        f"bill:{bill.id}:issued",
        f"Bill {service.code}/{number}",
        [Line(receivable, kind, total, bill.id), Line(revenue, revenue_kind, -total)],
    )
    return bill


def _line(position: int, line: BillLineInput) -> BillLine:
    description, translations = texts(line.description, line.description_translations)
    return BillLine(
        position=position,
        description=description,
        description_translations=translations,
        amount_minor=line.amount.minor,
    )


def cancel_bill(dbsession: Session, bill: Bill, reason: str, now: dt.datetime) -> None:
    """Cancel what is still owed on ``bill``; what was paid stays paid (refund it separately)."""
    # Locked and read again: a concurrent cancel (or payment) that committed meanwhile is seen.
    dbsession.refresh(bill, with_for_update=True)
    if bill.cancelled_at is not None:
        raise Refusal(
            CONFLICT, _("This bill is already cancelled."), title=_("Bill cannot be cancelled")
        )
    outstanding = ledger.bill_balances(dbsession, [bill.id])[bill.id]
    bill.cancelled_at = now
    bill.cancel_reason = reason[:300]
    if outstanding > 0:
        amount = Money(outstanding, bill.currency)
        receivable, kind = ledger.receivable_account(bill)
        revenue, revenue_kind = ledger.issued_to(dbsession, bill)
        ledger.append(
            dbsession,
            "bill_cancelled",
            f"bill:{bill.id}:cancelled",
            f"Cancelled: {reason[:200]}",
            [Line(receivable, kind, -amount, bill.id), Line(revenue, revenue_kind, amount)],
        )
    dbsession.flush()
    events.announce(events.BillCancelled(bill, dbsession))


def status_condition(status: str):
    """SQL that holds for the bills whose :func:`status_of` is ``status``; ``"unpaid"`` is every
    bill still to pay (open or partly paid). Only the one asked for is built: the bills page
    asks on every request."""
    if status == CANCELLED:
        return Bill.cancelled_at.is_not(None)
    outstanding = ledger.bill_outstanding()
    live = Bill.cancelled_at.is_(None)
    if status == WRITTEN_OFF:
        return and_(live, Bill.written_off_at.is_not(None), outstanding == 0)
    if status == OVERPAID:
        return and_(live, outstanding < 0)
    if status == PAID:
        return and_(live, Bill.written_off_at.is_(None), outstanding == 0)
    if status == PARTLY_PAID:
        return and_(live, outstanding > 0, outstanding < Bill.total_minor)
    if status == OPEN:
        return and_(live, outstanding >= Bill.total_minor)
    if status == "unpaid":
        return and_(live, outstanding > 0)
    raise KeyError(status)


def status_of(bill: Bill, balance: int) -> str:
    if bill.cancelled_at is not None:
        return CANCELLED
    if bill.written_off_at is not None and balance == 0:
        return WRITTEN_OFF
    if balance < 0:
        return OVERPAID
    if balance == 0:
        return PAID
    if balance < bill.total_minor:
        return PARTLY_PAID
    return OPEN


@dataclass(frozen=True)
class BillView:
    """A bill with what the ledger says about it, for pages and the API."""

    bill: Bill
    outstanding: Money
    status: str

    @property
    def payable(self) -> bool:
        return self.status in (OPEN, PARTLY_PAID)

    @property
    def settled(self) -> bool:
        """Nothing left to pay, and not cancelled: paid in full (or more)."""
        return self.status in (PAID, OVERPAID)


def with_status(dbsession: Session, bills: list[Bill]) -> list[BillView]:
    balances = ledger.bill_balances(dbsession, [bill.id for bill in bills])
    return [
        BillView(bill, Money(balances[bill.id], bill.currency), status_of(bill, balances[bill.id]))
        for bill in bills
    ]
