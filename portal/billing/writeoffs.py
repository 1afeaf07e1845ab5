"""Writing off a bill: a clerk gives up collecting what is still owed on an open bill, with a
reason. The amount moves from the payer's receivable to the service's write-off account, so
the ledger still balances and the bill shows written off (what was paid on it stays paid).

Above the department's four-eyes threshold a second clerk approves it first
(:mod:`portal.billing.approvals`); until then nothing is posted.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import record
from portal.billing import approvals, events, ledger
from portal.billing.ledger import Line
from portal.billing.models import ApprovalRequest, Bill
from portal.billing.payments import in_progress_payment
from portal.db import registry_of
from portal.i18n import _
from portal.localized import message_in
from portal.money import Money
from portal.refusals import CONFLICT, Refusal

log = logging.getLogger(__name__)

#: the kind of approval request a write-off above the threshold is
WRITE_OFF = "write_off"
CANNOT = _("The bill cannot be written off")


def owed_to_write_off(dbsession: Session, bill: Bill) -> Money:
    """What writing ``bill`` off would write off; a refusal if there is nothing to, or if a
    payment of it is in progress."""
    if bill.cancelled_at is not None:
        raise Refusal(CONFLICT, _("This bill is cancelled: nothing is owed on it."), title=CANNOT)
    if bill.written_off_at is not None:
        raise Refusal(CONFLICT, _("This bill was already written off."), title=CANNOT)
    # The payer may be on the provider's page: the money would land on a bill that shows
    # written off. Once the payment succeeds or fails, the bill can be written off (or not).
    if in_progress_payment(dbsession, [bill.id]) is not None:
        raise Refusal(
            CONFLICT,
            _(
                "The payer is paying this bill right now. Write it off once the payment has "
                "succeeded or failed."
            ),
            title=CANNOT,
        )
    owed = ledger.bill_balances(dbsession, [bill.id])[bill.id]
    if owed <= 0:
        raise Refusal(CONFLICT, _("Nothing is owed on this bill."), title=CANNOT)
    return Money(owed, bill.currency)


def write_off_bill(
    dbsession: Session,
    bill: Bill,
    reason: str,
    now: dt.datetime,
    actor_id: int | None,
    expected: Money | None = None,
) -> Money:
    """Write off what is still owed on ``bill`` (exactly ``expected``, if given: what a second
    clerk approved) and return it; ``actor_id`` is the clerk whose decision it was."""
    # Locked and read again, as cancelling does: a payment or cancellation that committed
    # meanwhile is seen.
    dbsession.refresh(bill, with_for_update=True)
    owed = owed_to_write_off(dbsession, bill)
    if expected is not None and owed != expected:
        raise Refusal(
            CONFLICT,
            _(
                "What is owed on this bill changed since the write-off was asked for. "
                "Reject this request and ask again."
            ),
            title=CANNOT,
        )
    receivable, kind = ledger.receivable_account(bill)
    written_off, written_off_kind = ledger.write_off_account(bill.service.code)
    ledger.append(
        dbsession,
        "bill_written_off",
        f"bill:{bill.id}:written_off",
        # not the reason: free text that may name people stays on the bill, where retention
        # reaches it, out of the append-only journal
        f"Written off: bill {bill.service.code}/{bill.number}",
        [Line(receivable, kind, -owed, bill.id), Line(written_off, written_off_kind, owed)],
    )
    bill.written_off_at = now
    bill.write_off_reason = reason[:300]
    dbsession.flush()
    record(
        dbsession,
        "bill.written_off",
        actor_id=actor_id,
        subject_id=bill.payer_user_id,
        object=("bill", bill.public_id),
        details={"amount_minor": owed.minor, "currency": owed.currency},
        personal={"reason": reason},
    )
    log.info("bill %s written off", bill.public_id)
    return owed


def write_off_as_clerk(
    dbsession: Session, bill: Bill, reason: str, clerk, now: dt.datetime
) -> ApprovalRequest | None:
    """``clerk`` writes ``bill`` off: at once within the department's threshold (None), else
    the request for a second clerk's approval (nothing posted yet)."""
    owed = owed_to_write_off(dbsession, bill)
    department = bill.service.department
    settings = registry_of(dbsession).settings
    if not approvals.needs_approval(settings, department, owed):
        write_off_bill(dbsession, bill, reason, now, clerk.id)
        return None
    return approvals.open_approval(
        dbsession,
        kind=WRITE_OFF,
        department=department,
        subject=bill.public_id,
        describe=partial(
            message_in,
            message=_(
                "Write-off of bill ${bill}", mapping={"bill": f"{bill.service.code}/{bill.number}"}
            ),
        ),
        amount=owed,
        reason=reason,
        clerk=clerk,
        now=now,
    )


class WriteOffApproval:
    """A clerk's write-off above the threshold."""

    code = WRITE_OFF
    label = _("Write-off")

    def requested(self, dbsession: Session, approval: ApprovalRequest) -> None:
        events.announce(events.ApprovalRequested(approval, dbsession))

    def decided(self, dbsession: Session, approval: ApprovalRequest, now: dt.datetime) -> None:
        if approval.status == approvals.APPROVED:
            bill = dbsession.scalars(select(Bill).where(Bill.public_id == approval.subject)).one()
            write_off_bill(
                dbsession,
                bill,
                approval.reason,
                now,
                approval.decided_by_id,
                expected=approval.amount,
            )
        events.announce(events.ApprovalDecided(approval, dbsession))

    def subject_path(self, request, approval: ApprovalRequest) -> str | None:
        return None
