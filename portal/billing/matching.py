"""Matching bank credits to bills and posting them.

A credit is matched by the RF creditor reference it quotes (structured, or typed into the
remittance text), its check digits verified; failing that, by a bill number found in the
remittance text. Exactly one payable bill in the credit's currency: the money is posted to it.
None, or several: the credit waits in the clerks' work queue (:class:`BankLineUnmatched`),
where a clerk assigns it to bills or returns it.

Posting debits the bank clearing account (``clearing:bank``) and credits each bill's
receivable, as a card payment's settlement does, so the bill shows paid, partly paid, or
overpaid: the surplus of an overpayment stays on the bill as the payer's credit (the bill's
balance below zero), which a clerk refunds by a transfer back to the account it came from
(:mod:`portal.billing.bank_refunds`). The credit is also recorded as a settled payment of
provider ``bank`` (method ``bank_transfer``) of its payer, a person or an organisation (one
payer: a credit is never spread over several payers' bills), and :class:`PaymentSucceeded`
is announced, so a receipt is issued as for a card payment: to the person, or to the
organisation whose bills it paid.
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

#: where an RF reference may start in free text: "RF" and its check digits, not inside a word
_REFERENCE_START = re.compile(r"(?<![A-Za-z0-9])RF ?[0-9]{2}", re.IGNORECASE)
#: one printed group of a reference's body (groups of four, separated by a space)
_REFERENCE_GROUP = re.compile(r" ?([A-Za-z0-9]+)")
#: a bill number as the portal's bills carry them (``B-000123``, ``PT-2026-0001-2``,
#: ``W2610/17``): letters, digits and ``. _ / -``, starting with a letter or digit, with at
#: least one digit, standing alone between spaces or punctuation. An ordinary word ("for",
#: "taxes") is no bill number, and is not looked for.
BILL_NUMBER = re.compile(
    r"(?<![A-Za-z0-9._/-])(?=[A-Za-z0-9._/-]*[0-9])[A-Za-z0-9][A-Za-z0-9._/-]{0,63}"
    r"(?<![._/-])(?![A-Za-z0-9_/-]|\.[A-Za-z0-9])"
)


def references_in(text: str) -> list[str]:
    """The valid RF references typed into ``text``, compact and upper-case.

    Not greedy: from each "RFkk", the groups that follow are added one at a time and the
    reference ends at the first whose check digits hold, so the words after a reference
    ("RF18 5390 0754 7034 thanks") are never read as part of it."""
    found = []
    for start in _REFERENCE_START.finditer(text):
        reference = start[0].replace(" ", "").upper()
        position = start.end()
        while group := _REFERENCE_GROUP.match(text, position):
            if len(reference) + len(group[1]) > 25:
                break
            reference += group[1].upper()
            position = group.end()
            if is_valid_reference(reference):
                found.append(reference)
                break
    return found


def bill_numbers_in(text: str) -> set[str]:
    """What in ``text`` has the shape of a bill number (:data:`BILL_NUMBER`)."""
    return set(BILL_NUMBER.findall(text))


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
        references.extend(references_in(line.remittance))
    if references:
        bills = list(dbsession.scalars(select(Bill).where(Bill.reference.in_(references), ours)))
        if bills:
            return bills
    numbers = bill_numbers_in(line.remittance)
    if not numbers:
        return []
    return list(
        dbsession.scalars(select(Bill).where(Bill.number.in_(numbers), ours).order_by(Bill.id))
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
    ledger.append(
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
    """The settled payment recording ``line``, of the one payer (a person or an
    organisation) who owes all its bills."""
    payers = {(bill.payer_user_id, bill.payer_organisation_id) for bill, _share in shares}
    if len(payers) != 1:
        return None
    ((user_id, organisation_id),) = payers
    payment = Payment(
        payer_user_id=user_id,
        payer_organisation_id=organisation_id,
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


def origin_account(dbsession: Session, payment: Payment) -> tuple[str, str]:
    """The account (IBAN, "" if the bank left it out) and the name a bank ``payment`` came
    from: where a refund of it goes back to."""
    row = dbsession.execute(
        select(BankLine.debtor_iban, BankLine.debtor_name)
        .join(BankLineMatch, BankLineMatch.line_id == BankLine.id)
        .where(BankLineMatch.payment_id == payment.id)
        .limit(1)
    ).first()
    return (row[0], row[1]) if row is not None else ("", "")
