"""Deposits: money a payer lodges that the authority holds for them, as a liability, until it
is released (given back through the payment provider) or forfeited (it becomes revenue).

On the ledger: the deposit's bill is issued to the service's deposits account rather than to
its revenue (receivable / deposits), and paid like any bill (clearing / receivable).
Forfeiting moves the money from deposits to revenue. Releasing credits the bill back
(deposits / receivable, so the bill shows the money as the payer's) and refunds that credit
through the provider on the payment that lodged it; once the provider confirms, the refund's
posting (receivable / clearing) leaves the bill paid and the deposits account square.
A deposit closes once: its state is checked under a row lock, and the closing posting's
idempotency key is the same for both ways of closing it.
"""

from __future__ import annotations

import datetime as dt
import logging

from portal.billing import ledger
from portal.billing.bills import issue_bill, with_status
from portal.billing.ledger import Line
from portal.billing.models import Deposit, Refund
from portal.billing.payments import refundable_on_bill
from portal.billing.refunding import request_refund
from portal.catalogue.interfaces import BillLineInput
from portal.i18n import _
from portal.money import Money
from portal.refusals import CONFLICT, Refusal

log = logging.getLogger(__name__)

HELD = "held"
RELEASED = "released"
FORFEITED = "forfeited"


def hold_deposit(
    dbsession,
    *,
    service,
    number: str,
    description: str,
    due_date: dt.date,
    amount: Money,
    now: dt.datetime,
    payer_user=None,
    payer_organisation=None,
) -> Deposit:
    """Ask a payer to lodge ``amount`` with ``service`` (asked ``now``): a bill to pay, whose
    money the authority holds for the payer rather than earns."""
    bill = issue_bill(
        dbsession,
        service=service,
        number=number,
        description=description,
        due_date=due_date,
        lines=[BillLineInput(description, amount)],
        payer_user=payer_user,
        payer_organisation=payer_organisation,
        credit=ledger.deposits_account(service.code),
    )
    deposit = Deposit(
        bill=bill, status=HELD, amount_minor=amount.minor, currency=amount.currency, created_at=now
    )
    dbsession.add(deposit)
    dbsession.flush()
    return deposit


def _closable(dbsession, deposit: Deposit) -> Deposit:
    """``deposit`` locked and read afresh, if it is held and lodged in full."""
    dbsession.refresh(deposit, with_for_update=True)
    if deposit.status == RELEASED:
        raise Refusal(CONFLICT, _("This deposit was released already."), about=deposit)
    if deposit.status == FORFEITED:
        raise Refusal(CONFLICT, _("This deposit was forfeited already."), about=deposit)
    (view,) = with_status(dbsession, [deposit.bill])
    if not view.settled:
        raise Refusal(CONFLICT, _("This deposit has not been lodged yet."), about=deposit)
    return deposit


def _close(deposit: Deposit, status: str, reason: str, now: dt.datetime, clerk) -> None:
    deposit.status = status
    deposit.closed_at = now
    deposit.close_reason = reason[:300]
    deposit.closed_by_id = clerk.id if clerk is not None else None


def forfeit_deposit(dbsession, deposit: Deposit, reason: str, now: dt.datetime, clerk=None) -> None:
    """Keep the deposit (``now``): the money held becomes the service's revenue."""
    deposit = _closable(dbsession, deposit)
    bill = deposit.bill
    held, held_kind = ledger.deposits_account(bill.service.code)
    revenue, revenue_kind = ledger.revenue_account(bill.service.code)
    ledger.append(
        dbsession,
        "deposit_forfeited",
        f"deposit:{deposit.id}:closed",
        f"Deposit forfeited: {reason[:200]}",
        [Line(held, held_kind, deposit.amount), Line(revenue, revenue_kind, -deposit.amount)],
    )
    _close(deposit, FORFEITED, reason, now, clerk)
    dbsession.flush()
    log.info("deposit %s forfeited", deposit.public_id)


def release_deposit(
    dbsession, deposit: Deposit, reason: str, now: dt.datetime, clerk=None
) -> Refund:
    """Give the deposit back (``now``): refunded through the provider on the payment that
    lodged it, sent once the transaction commits. Returns the refund. Not subject to the
    four-eyes threshold (:mod:`portal.billing.approvals`): the tender's rules decide a
    release, not a clerk's discretion."""
    deposit = _closable(dbsession, deposit)
    bill = deposit.bill
    found = refundable_on_bill(dbsession, bill.id)
    if found is None or found[1] < deposit.amount:
        raise Refusal(
            CONFLICT,
            _("This deposit was not lodged by one payment, so it cannot be given back."),
            about=deposit,
        )
    payment = found[0]
    refund = request_refund(
        dbsession, payment, {bill.id: deposit.amount}, payment.refundable, reason, clerk
    )
    held, held_kind = ledger.deposits_account(bill.service.code)
    receivable, receivable_kind = ledger.receivable_account(bill)
    ledger.append(
        dbsession,
        "deposit_released",
        f"deposit:{deposit.id}:closed",
        f"Deposit released: {reason[:200]}",
        [
            Line(held, held_kind, deposit.amount),
            Line(receivable, receivable_kind, -deposit.amount, bill.id),
        ],
    )
    deposit.refund = refund
    _close(deposit, RELEASED, reason, now, clerk)
    dbsession.flush()
    log.info("deposit %s released", deposit.public_id)
    return refund
