"""Matching bank credits to bills and posting them.

A credit is matched by the RF creditor reference it quotes (structured, or typed into the
remittance text), its check digits verified; failing that, by a bill number found in the
remittance text. Exactly one payable bill in the credit's currency: the money is posted to it.
None, or several: the credit waits in the clerks' work queue (:class:`BankLineUnmatched`),
where a clerk assigns it to bills or returns it.

Posting debits the bank clearing account (``clearing:bank``) and credits each bill's
receivable, as a card payment's settlement does, so the bill shows paid, partly paid, or
overpaid: the surplus of an overpayment stays on the bill as the payer's credit (the bill's
balance below zero), which a clerk refunds. For a person's bills the credit is also recorded
as a settled payment of provider ``bank`` (method ``bank_transfer``) and
:class:`PaymentSucceeded` is announced, so a receipt is issued as for a card payment. A
payment belongs to a person, so an organisation's bills paid by transfer are posted on the
ledger without a payment row, and get no receipt.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.billing import events, ledger, state
from portal.billing.bills import with_status
from portal.billing.ledger import Line
from portal.billing.models import BankLine, BankLineMatch, Bill, Payment, PaymentAllocation
from portal.billing.reference import is_valid_reference
from portal.catalogue.models import Service
from portal.i18n import _
from portal.money import Money

log = logging.getLogger(__name__)

BANK = "bank"
METHOD = "bank_transfer"
#: how a payment by transfer's method reads (a card's is as its provider names it)
METHOD_LABEL = _("Bank transfer")
MATCHED = "matched"
UNMATCHED = "unmatched"
ASSIGNED = "assigned"
RETURNED = "returned"
LABELS = {
    MATCHED: _("Matched"),
    UNMATCHED: _("Waiting for a clerk"),
    ASSIGNED: _("Assigned by a clerk"),
    RETURNED: _("Returned"),
}

_REFERENCE_IN_TEXT = re.compile(r"RF\s?[0-9]{2}(?:\s?[A-Z0-9]){1,21}", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.-]{1,63}")


def method_text(method: str | None, translate) -> str:
    """How a payment's method reads on its receipt and pages: a transfer in the reader's
    language (``translate``), a card as its provider names it (``Visa •••• 4242``: a brand
    and digits, the same in every language)."""
    return translate(METHOD_LABEL) if method == METHOD else method or ""


def of_department(department_id: int):
    """The condition a bill is of a service of the department: a credit on a department's
    statement pays only that department's bills (references and numbers are not unique
    across departments, and one department's clerk must not settle another's bills)."""
    return Bill.service_id.in_(select(Service.id).where(Service.department_id == department_id))


def candidates(dbsession: Session, line: BankLine) -> list[Bill]:
    """The bills of ``line``'s department it names: by a valid RF reference first, else by
    bill number."""
    ours = of_department(line.department_id)
    references = []
    if line.creditor_reference and is_valid_reference(line.creditor_reference):
        references.append(line.creditor_reference.replace(" ", "").upper())
    else:
        for found in _REFERENCE_IN_TEXT.findall(line.remittance):
            if is_valid_reference(found):
                references.append(found.replace(" ", "").upper())
    if references:
        bills = list(dbsession.scalars(select(Bill).where(Bill.reference.in_(references), ours)))
        if bills:
            return bills
    words = {word.rstrip(".") for word in _WORD.findall(line.remittance)}
    if not words:
        return []
    return list(
        dbsession.scalars(select(Bill).where(Bill.number.in_(words), ours).order_by(Bill.id))
    )


def match_line(dbsession: Session, line: BankLine, now: dt.datetime) -> None:
    """Post ``line`` to the one bill it names, or send it to the clerks' queue."""
    bills = candidates(dbsession, line)
    payable = [view.bill for view in with_status(dbsession, bills) if view.payable]
    if len(bills) == 1 and len(payable) == 1 and payable[0].currency == line.currency:
        post_line(dbsession, line, payable, now)
        line.status = MATCHED
        return
    log.info("bank line %s: %d candidate bills, to the queue", line.public_id, len(bills))
    queue_line(dbsession, line)


def queue_line(dbsession: Session, line: BankLine) -> None:
    """Send ``line`` to the clerks' work queue, unmatched."""
    line.status = UNMATCHED
    events.announce(events.BankLineUnmatched(line, dbsession))


def post_line(dbsession: Session, line: BankLine, bills: list[Bill], now: dt.datetime) -> None:
    """Post the whole of ``line`` to ``bills`` (in their currency): each but the last gets
    what it still owes, the last the rest, its surplus included."""
    balances = ledger.bill_balances(dbsession, [bill.id for bill in bills])
    remaining = line.amount_minor
    shares: list[tuple[Bill, int]] = []
    for position, bill in enumerate(bills):
        last = position == len(bills) - 1
        share = remaining if last else min(remaining, max(0, balances[bill.id]))
        if share > 0:
            shares.append((bill, share))
        remaining -= share
    clearing, clearing_kind = ledger.clearing_account(BANK)
    entries = [Line(clearing, clearing_kind, line.amount)]
    for bill, share in shares:
        account, kind = ledger.receivable_account(bill)
        entries.append(Line(account, kind, -Money(share, line.currency), bill.id))
    ledger.post(
        dbsession,
        "payment_settled",
        f"bank_line:{line.id}",
        f"Bank transfer {line.public_id}",
        entries,
    )
    payment = _payment(dbsession, line, shares, now)
    for bill, share in shares:
        line.matches.append(
            BankLineMatch(
                bill_id=bill.id,
                amount_minor=share,
                payment_id=payment.id if payment is not None else None,
            )
        )
    dbsession.flush()
    if payment is not None:
        events.announce(events.PaymentSucceeded(payment, dbsession))


def _payment(
    dbsession: Session, line: BankLine, shares: list[tuple[Bill, int]], now: dt.datetime
) -> Payment | None:
    """The settled payment recording ``line``, when one person owes all its bills."""
    payers = {bill.payer_user_id for bill, _share in shares}
    if len(payers) != 1 or None in payers:
        return None
    (payer_id,) = payers
    payment = Payment(
        payer_user_id=payer_id,
        provider=BANK,
        provider_payment_id=line.servicer_reference or line.end_to_end_id or line.public_id,
        amount_minor=line.amount_minor,
        currency=line.currency,
        method=METHOD,
        created_at=now,
        expires_at=now,
        allocations=[
            PaymentAllocation(bill_id=bill.id, amount_minor=share) for bill, share in shares
        ],
    )
    dbsession.add(payment)
    dbsession.flush()
    state.transition(payment, state.SUCCEEDED, f"bank statement line {line.public_id}", now)
    payment.settled_at = now
    return payment
