"""Refunds of payments that came by bank transfer: given back by a transfer to the account
the money came from, as a finance office does it.

No provider carries these out: a refund of a bank payment (a clerk's, a surplus given back,
or one the rules decide) is recorded to_transfer, to the statement line's debtor account
(:func:`portal.billing.matching.origin_account`) or the one a clerk put instead with a
reason. Above the department's threshold a second clerk approves it first, as any refund.

A clerk of the department then exports the refunds waiting into an ISO 20022 pain.001
credit-transfer file (:mod:`portal.billing.pain001`), kept as made, which they upload to the
authority's bank: those refunds are sent. The bank's statement later shows each as a debit
whose end-to-end id is the refund's public id: importing it completes the refund, which is
then posted on the ledger (``clearing:bank`` credited, the bill owed again by what it gives
back: an overpaid bill's credit goes back to zero) and its credit note issued. A clerk may
also confirm a transfer the bank carried out (or one made by hand), or record that the bank
returned it (the money is the payer's credit again). Each step is in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.audit import record
from portal.billing import approvals, events, state
from portal.billing.camt import Debit
from portal.billing.matching import BANK, origin_account
from portal.billing.models import (
    ApprovalRequest,
    Bill,
    Payment,
    PaymentAllocation,
    Refund,
    RefundTransferFile,
    new_public_id,
)
from portal.billing.pain001 import CURRENCY, Transfer, TransferFileError, credit_transfers
from portal.billing.payments import flag_for_clerk, lock_payment, post_refund
from portal.billing.refunding import RefundApproval, awaiting_refund, refund_department
from portal.billing.transfer import TransferAccount, compact_iban, is_valid_iban
from portal.catalogue.models import Service
from portal.i18n import _
from portal.localized import message_in
from portal.refusals import CONFLICT, INVALID, FieldError, Refusal

log = logging.getLogger(__name__)

#: the approval kind of a bank refund's account changed after the refund was made
REFUND_ACCOUNT = "refund_account"


def of_department(department_id: int):
    """The condition a refund is of a bank payment of the department's bills."""
    bills = (
        select(PaymentAllocation.payment_id)
        .join(Bill, PaymentAllocation.bill_id == Bill.id)
        .join(Service, Bill.service_id == Service.id)
        .where(Service.department_id == department_id)
    )
    bank = select(Payment.id).where(Payment.provider == BANK, Payment.id.in_(bills))
    return Refund.payment_id.in_(bank)


def department_refunds(dbsession: Session, department_id: int, statuses) -> list[Refund]:
    """The department's bank refunds in ``statuses``, oldest first."""
    return list(
        dbsession.scalars(
            select(Refund)
            .where(of_department(department_id), Refund.status.in_(list(statuses)))
            .options(selectinload(Refund.lines), selectinload(Refund.payment))
            .order_by(Refund.created_at, Refund.id)
        )
    )


def exportable(refund: Refund) -> bool:
    """Whether ``refund`` can go in a credit-transfer file: waiting, in euro, to a valid
    account."""
    return (
        refund.status == state.REFUND_TO_TRANSFER
        and refund.currency == CURRENCY
        and bool(refund.creditor_iban)
        and is_valid_iban(refund.creditor_iban or "")
    )


def export(
    dbsession: Session,
    department,
    clerk,
    account: TransferAccount,
    now: dt.datetime,
    remittance: Callable[[Refund], str],
) -> RefundTransferFile:
    """The credit-transfer file of every refund of ``department`` waiting to be sent (those
    that can be: see :func:`exportable`), made by ``clerk`` and kept; those refunds are sent.
    ``remittance`` is what the payer's bank shows them of each."""
    waiting = department_refunds(dbsession, department.id, {state.REFUND_TO_TRANSFER})
    ready = [refund for refund in waiting if exportable(refund)]
    if not ready:
        raise Refusal(CONFLICT, _("No refund is ready to be sent to the bank."))
    # each refund read afresh under its payment's lock: one exported by another clerk at
    # the same moment is left out (it is sent already), never sent twice
    refunds = []
    for refund in ready:
        lock_payment(dbsession, refund.payment_id)
        dbsession.refresh(refund)
        if exportable(refund):
            refunds.append(refund)
    if not refunds:
        raise Refusal(CONFLICT, _("No refund is ready to be sent to the bank."))
    transfer_file = RefundTransferFile(
        public_id=new_public_id(),
        department_id=department.id,
        created_at=now,
        created_by_id=clerk.id,
        transfers=len(refunds),
        total_minor=sum(refund.amount_minor for refund in refunds),
        currency=CURRENCY,
    )
    transfer_file.message_id = f"PORTAL-REFUNDS-{transfer_file.public_id[:20]}"
    try:
        transfer_file.xml = credit_transfers(
            message_id=transfer_file.message_id,
            created_at=now,
            execution_date=now.date(),
            debtor=account,
            transfers=[
                Transfer(
                    end_to_end_id=refund.public_id,
                    amount=refund.amount,
                    creditor_name=refund.creditor_name or refund.payment.payer_name,
                    creditor_iban=compact_iban(refund.creditor_iban or ""),
                    remittance=remittance(refund),
                )
                for refund in refunds
            ],
        )
    except TransferFileError as error:
        log.error("credit-transfer file not made: %s", error)
        raise Refusal(INVALID, _("The credit-transfer file could not be made.")) from None
    transfer_file.sha256 = hashlib.sha256(transfer_file.xml).hexdigest()
    dbsession.add(transfer_file)
    dbsession.flush()
    for refund in refunds:
        refund.transfer_file_id = transfer_file.id
        state.transition_refund(
            refund, state.REFUND_SENT, f"in credit-transfer file {transfer_file.message_id}", now
        )
    record(
        dbsession,
        "refund_transfer_file.created",
        actor_id=clerk.id,
        object=("refund_transfer_file", transfer_file.public_id),
        details={
            "department_id": department.id,
            "message_id": transfer_file.message_id,
            "transfers": transfer_file.transfers,
            "total_minor": transfer_file.total_minor,
            "currency": transfer_file.currency,
            "refunds": [refund.public_id for refund in refunds],
        },
    )
    dbsession.flush()
    log.info(
        "credit-transfer file %s: %d refunds", transfer_file.public_id, transfer_file.transfers
    )
    return transfer_file


def complete_from_statement(
    dbsession: Session, debits: list[Debit], statement: str, now: dt.datetime
) -> int:
    """Complete the sent refunds whose debit ``statement`` shows (by end-to-end id and
    amount); how many it completed. A debit naming a refund but of another amount is left
    for a clerk (the payment is flagged)."""
    by_id = {debit.end_to_end_id.lower(): debit for debit in debits if debit.end_to_end_id}
    if not by_id:
        return 0
    refunds = dbsession.scalars(
        select(Refund).where(
            Refund.public_id.in_(list(by_id)),
            Refund.status.in_([state.REFUND_SENT, state.REFUND_TO_TRANSFER]),
        )
    ).all()
    completed = 0
    for refund in refunds:
        if refund.payment.provider != BANK:
            continue
        debit = by_id[refund.public_id]
        if debit.amount != refund.amount:
            flag_for_clerk(
                dbsession,
                lock_payment(dbsession, refund.payment_id),
                f"bank debited refund {refund.public_id} with another amount",
            )
            log.error("refund %s debited with another amount", refund.public_id)
            continue
        post_refund(dbsession, refund, now, f"debited on bank statement {statement}")
        completed += 1
        log.info("refund %s completed by bank statement %s", refund.public_id, statement)
    return completed


def confirm(dbsession: Session, refund: Refund, clerk, now: dt.datetime) -> None:
    """``clerk`` confirms the bank carried out ``refund`` (sent, or made by hand): it is
    completed and posted. Checked under the payment's lock: another clerk may have just
    sent it to another account (awaiting approval, which no bank carries out)."""
    lock_payment(dbsession, refund.payment_id)
    dbsession.refresh(refund)
    if refund.status not in (state.REFUND_SENT, state.REFUND_TO_TRANSFER):
        raise Refusal(CONFLICT, _("This refund is not waiting for the bank."))
    post_refund(dbsession, refund, now, f"carried out by the bank, confirmed by user {clerk.id}")
    record(
        dbsession,
        "refund.confirmed",
        actor_id=clerk.id,
        subject_id=refund.payment.payer_user_id,
        object=("refund", refund.public_id),
        details={"payment": refund.payment.public_id},
    )


def returned(dbsession: Session, refund: Refund, clerk, reason: str, now: dt.datetime) -> None:
    """The bank returned the sent ``refund`` (a closed account, say): it failed, its money is
    the payer's credit again, to be refunded anew."""
    payment = lock_payment(dbsession, refund.payment_id)
    dbsession.refresh(refund)
    if refund.status != state.REFUND_SENT:
        raise Refusal(CONFLICT, _("Only a refund sent to the bank can come back from it."))
    if not reason.strip():
        raise Refusal(INVALID, _("Say why the bank returned the transfer."), field="reason")
    state.transition_refund(refund, state.REFUND_FAILED, "returned by the bank", now)
    payment.refunded_minor -= refund.amount_minor
    record(
        dbsession,
        "refund.returned",
        actor_id=clerk.id,
        subject_id=payment.payer_user_id,
        object=("refund", refund.public_id),
        details={"payment": payment.public_id},
        personal={"reason": reason.strip()[:2000]},
    )
    dbsession.flush()


def change_account(
    dbsession: Session, refund: Refund, iban: str, reason: str, clerk, now: dt.datetime
) -> bool:
    """``clerk`` sends ``refund`` (waiting for the next file) to the account ``iban`` instead,
    saying why (the payer closed the account the money came from, say). Answers whether a
    second clerk must now approve it: another account than the money came from always needs
    one, as when the refund is made (it is how money would be diverted, see
    :func:`portal.billing.refunding.refund_approver`). The refund then waits for that
    approval before it goes in a file; rejected or withdrawn, it goes back to the account the
    money came from (see :class:`RefundAccountApproval`). A refund already awaiting a
    decision keeps its account until it is decided: the second clerk would otherwise approve
    an account they had not seen."""
    lock_payment(dbsession, refund.payment_id)
    dbsession.refresh(refund)
    if refund.status == state.REFUND_AWAITING_APPROVAL:
        raise Refusal(
            CONFLICT,
            _(
                "This refund awaits a second clerk's decision: its account can change once it "
                "is decided."
            ),
        )
    if refund.status != state.REFUND_TO_TRANSFER:
        raise Refusal(CONFLICT, _("This refund was already sent to the bank."))
    compact = compact_iban(iban)
    errors = []
    if not is_valid_iban(compact):
        errors.append(
            FieldError(
                "iban", _("The account is not a valid IBAN: check it against the payer's letter.")
            )
        )
    if not reason.strip():
        errors.append(
            FieldError(
                "reason",
                _("Say why the refund goes to another account than the one the money came from."),
            )
        )
    if errors:
        raise Refusal(INVALID, errors[0].message, errors=errors)
    origin = compact == origin_account(dbsession, refund.payment)[0]
    refund.creditor_iban = compact
    # the page says "Another account: <why>" while there is a why
    refund.account_reason = None if origin else reason.strip()[:2000]
    dbsession.flush()
    state.audit_refund_account(dbsession, refund, refund.payment, clerk)
    if origin:
        return False
    state.transition_refund(
        refund, state.REFUND_AWAITING_APPROVAL, f"account changed by user {clerk.id}", now
    )
    approvals.open_approval(
        dbsession,
        kind=REFUND_ACCOUNT,
        department=refund_department(dbsession, [line.bill_id for line in refund.lines]),
        subject=refund.public_id,
        describe=partial(_account_description, refund),
        amount=refund.amount,
        reason=refund.account_reason or "",
        clerk=clerk,
        now=now,
    )
    return True


def _account_description(refund: Refund, locale: str) -> str:
    """The change to approve, for a reader of ``locale``: the account's last characters (the
    whole account is on the payment's page, which the request links to)."""
    return message_in(
        locale,
        _(
            "Refund of ${amount} of payment ${payment} to the account ending in ${ending}, "
            "not the one the money came from",
            mapping={
                "amount": refund.amount.format(locale),
                "payment": refund.payment.public_id,
                "ending": (refund.creditor_iban or "")[-4:],
            },
        ),
    )


class RefundAccountApproval(RefundApproval):
    """A bank refund sent to another account than the money came from, after it was made:
    approved, it goes in the next file to that account; rejected or withdrawn, it still goes,
    to the account the money came from. Only the account was in question, not the refund
    (a :class:`RefundApproval` otherwise: announced and linked alike)."""

    code = REFUND_ACCOUNT
    label = _("Refund to another account")

    def decided(self, dbsession: Session, approval: ApprovalRequest, now: dt.datetime) -> None:
        refund = awaiting_refund(dbsession, approval.subject)
        by = approval.decided_by_id or approval.requested_by_id
        cause = f"account {approval.status} by user {by}"
        if approval.status != approvals.APPROVED:
            refund.creditor_iban = origin_account(dbsession, refund.payment)[0] or None
            refund.account_reason = None
            decider = approval.decided_by or approval.requested_by
            state.audit_refund_account(dbsession, refund, refund.payment, decider)
        state.transition_refund(refund, state.REFUND_TO_TRANSFER, cause, now)
        dbsession.flush()
        log.info("refund %s: the account change %s", refund.public_id, approval.status)
        events.announce(events.ApprovalDecided(approval, dbsession))
