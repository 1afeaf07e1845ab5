"""The payment and refund state machines: the one place that says which changes of state are
allowed, each change recorded with when and why.

A payment: created -> started (at the provider) -> succeeded | failed | cancelled | expired;
succeeded -> partly_refunded | refunded. A payment that expired here may still be reported as
succeeded by the provider later (the payer finished just in time): the money was taken, so
the late success is accepted and posted.

A refund: requested -> succeeded (the provider confirmed it, and it is posted) | failed (the
provider refused it, and the money it reserved is given back). A refund above its department's
four-eyes threshold starts awaiting_approval (its money reserved, nothing sent) -> requested (a
second clerk approved it) | rejected (the reservation given back); see
:mod:`portal.billing.approvals`.

A refund of a payment that came by bank transfer goes back by transfer, which the portal
cannot make itself: to_transfer (approved, waiting for a clerk to export it) -> sent (in a
credit-transfer file given to the bank) -> succeeded (the debit is on the bank statement, or a
clerk confirms it; then it is posted) | failed (the bank returned it); a transfer a clerk made
by hand is confirmed from to_transfer; see :mod:`portal.billing.bank_refunds`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert
from sqlalchemy.orm import object_session

from portal.audit import record
from portal.billing.models import Payment, PaymentTransition, Refund, RefundTransition
from portal.db import Prebuilt, run_write, table_of, write_versioned
from portal.i18n import _, pgettext

CREATED = "created"
STARTED = "started"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
EXPIRED = "expired"
PARTLY_REFUNDED = "partly_refunded"
REFUNDED = "refunded"

TRANSITIONS: dict[str, frozenset[str]] = {
    CREATED: frozenset({STARTED, SUCCEEDED, FAILED, CANCELLED, EXPIRED}),
    STARTED: frozenset({SUCCEEDED, FAILED, CANCELLED, EXPIRED}),
    EXPIRED: frozenset({SUCCEEDED}),
    SUCCEEDED: frozenset({PARTLY_REFUNDED, REFUNDED}),
    PARTLY_REFUNDED: frozenset({PARTLY_REFUNDED, REFUNDED}),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
    REFUNDED: frozenset(),
}

#: what each state is called on the payer's pages
LABELS = {
    CREATED: _("Not started"),
    STARTED: _("Waiting for the payment provider"),
    SUCCEEDED: pgettext("payment state", "Paid"),
    FAILED: _("Failed"),
    CANCELLED: pgettext("payment state", "Cancelled"),
    EXPIRED: _("Expired"),
    PARTLY_REFUNDED: _("Partly refunded"),
    REFUNDED: pgettext("payment state", "Refunded"),
}

#: why a payment failed, as the payer is told, by the provider's reason code (the codes
#: card processors commonly use); an unknown code is shown as the status alone
FAILURE_LABELS = {
    "card_declined": _("The card was declined by its bank."),
    "insufficient_funds": _("There was not enough money on the card."),
    "authentication_failed": _("The card's security check (3-D Secure) did not pass."),
    "expired_card": _("The card has expired."),
}

REFUND_REQUESTED = "requested"
REFUND_SUCCEEDED = "succeeded"
REFUND_FAILED = "failed"
REFUND_AWAITING_APPROVAL = "awaiting_approval"
REFUND_REJECTED = "rejected"
REFUND_TO_TRANSFER = "to_transfer"
REFUND_SENT = "sent"

REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    REFUND_AWAITING_APPROVAL: frozenset({REFUND_REQUESTED, REFUND_TO_TRANSFER, REFUND_REJECTED}),
    REFUND_REQUESTED: frozenset({REFUND_SUCCEEDED, REFUND_FAILED}),
    # back to awaiting approval when a clerk sends it to another account (bank_refunds)
    REFUND_TO_TRANSFER: frozenset({REFUND_SENT, REFUND_SUCCEEDED, REFUND_AWAITING_APPROVAL}),
    REFUND_SENT: frozenset({REFUND_SUCCEEDED, REFUND_FAILED}),
    REFUND_SUCCEEDED: frozenset(),
    REFUND_FAILED: frozenset(),
    REFUND_REJECTED: frozenset(),
}

#: what a refund's status is called on the clerks' pages
REFUND_LABELS = {
    REFUND_REQUESTED: _("Sent to the provider"),
    REFUND_SUCCEEDED: pgettext("refund state", "Refunded"),
    REFUND_FAILED: _("Refused by the provider"),
    REFUND_AWAITING_APPROVAL: _("Awaiting a second clerk's approval"),
    REFUND_REJECTED: _("Not approved"),
    REFUND_TO_TRANSFER: _("To be sent to the bank"),
    REFUND_SENT: _("Sent to the bank"),
}

#: refunds a second clerk has not approved (waiting, or refused): four-eyes internals, never
#: shown to the payer (their data download leaves them out)
REFUND_NOT_APPROVED = frozenset({REFUND_AWAITING_APPROVAL, REFUND_REJECTED})

#: the payment states whose reaching is audited: the outcomes (a start is not money moving)
AUDITED = frozenset({SUCCEEDED, FAILED, CANCELLED, EXPIRED, PARTLY_REFUNDED, REFUNDED})

#: refunds whose lines hold money back from further refunds (a failed or rejected one gave it
#: back)
REFUND_RESERVING = frozenset(
    {
        REFUND_AWAITING_APPROVAL,
        REFUND_REQUESTED,
        REFUND_TO_TRANSFER,
        REFUND_SENT,
        REFUND_SUCCEEDED,
    }
)
#: refunds on their way, not yet posted: the ledger still holds their money on the bills
REFUND_UNDER_WAY = frozenset({REFUND_REQUESTED, REFUND_TO_TRANSFER, REFUND_SENT})

#: still waiting for the payer or the provider
IN_PROGRESS = frozenset({CREATED, STARTED})
#: money was taken
SETTLED = frozenset({SUCCEEDED, PARTLY_REFUNDED, REFUNDED})
#: the provider confirmed giving back some or all of the money
REFUNDED_STATES = frozenset({PARTLY_REFUNDED, REFUNDED})


class IllegalTransition(RuntimeError):
    """A change of state the table does not allow: a bug, never the user's doing."""

    def __init__(self, subject: Payment | Refund, to_status: str):
        kind = type(subject).__name__.lower()
        super().__init__(
            f"{kind} {subject.public_id}: {subject.status} -> {to_status} is not allowed"
        )
        self.from_status = subject.status
        self.to_status = to_status


def can_transition(payment: Payment, to_status: str) -> bool:
    return to_status in TRANSITIONS[payment.status]


def transition(payment: Payment, to_status: str, cause: str, now: dt.datetime) -> None:
    """Move ``payment`` to ``to_status``, recording when (``now``) and why; raise if not
    allowed."""
    _check(payment, to_status)
    session = object_session(payment)
    if session is not None and payment.id is not None:
        _record(session, payment, to_status, cause, now)
        if to_status in AUDITED:
            _audit(session, payment, to_status, cause)
    else:
        # Joined through its many-to-one side, so the payment's history is not read to add to it.
        record = PaymentTransition(
            payment=payment,
            from_status=payment.status,
            to_status=to_status,
            cause=cause[:200],
            at=now,
        )
        if session is not None:
            session.add(record)
    payment.status = to_status


def transition_written(
    payment: Payment, to_status: str, cause: str, now: dt.datetime, **changes
) -> None:
    """:func:`transition` of a stored payment, its new status and ``changes`` (other columns)
    written at once by one versioned UPDATE (:func:`portal.db.write_versioned`), its history
    row in the same statement on PostgreSQL: the hot path's transitions (started, succeeded)
    without the flush, in one statement each."""
    _check(payment, to_status)
    session = object_session(payment)
    if session is None or payment.id is None:
        raise ValueError("only a stored payment's transition is written at once")
    if to_status in AUDITED:
        _audit(session, payment, to_status, cause)
    write_versioned(
        session,
        payment,
        {"status": to_status, **changes},
        with_row=(_TRANSITIONS, _transition_row(payment, to_status, cause, now)),
    )


def _check(payment: Payment, to_status: str) -> None:
    if not can_transition(payment, to_status):
        raise IllegalTransition(payment, to_status)


def _record(session, payment: Payment, to_status: str, cause: str, now: dt.datetime) -> None:
    # Written at once with a plain INSERT: a history row is never read back or changed, and
    # leaving it to the flush costs as much as the rest of a notification's writes. Not
    # flushing first: the payment's changes around it then go in one UPDATE.
    with session.no_autoflush:
        run_write(
            session, _INSERT_TRANSITION(session), _transition_row(payment, to_status, cause, now)
        )


def _transition_row(payment: Payment, to_status: str, cause: str, now: dt.datetime) -> dict:
    return {
        "payment_id": payment.id,
        "from_status": payment.status,
        "to_status": to_status,
        "cause": cause[:200],
        "at": now,
    }


_TRANSITIONS = table_of(PaymentTransition)
_INSERT_TRANSITION = Prebuilt(lambda dialect: insert(_TRANSITIONS))


def _audit(session, subject: Payment | Refund, to_status: str, cause: str) -> None:
    """One audit entry for an outcome, written with the rest of the transaction's entries."""
    payment = subject.payment if isinstance(subject, Refund) else subject
    kind = type(subject).__name__.lower()
    record(
        session,
        f"{kind}.{to_status}",
        subject_id=payment.payer_user_id,
        object=(kind, subject.public_id),
        details={"from": subject.status, "cause": cause[:200]},
    )


def audit_refund_requested(session, refund: Refund, payment: Payment, clerk) -> None:
    """The refund asked for, by ``clerk`` (None: the portal, e.g. giving an overpayment back);
    its reason is free text that may name people, so it is kept redactable."""
    record(
        session,
        "refund.requested",
        actor_id=clerk.id if clerk is not None else None,
        subject_id=payment.payer_user_id,
        object=("refund", refund.public_id),
        details={
            "payment": payment.public_id,
            "amount_minor": refund.amount_minor,
            "currency": refund.currency,
        },
        personal={"reason": refund.reason},
    )


def audit_refund_account(session, refund: Refund, payment: Payment, clerk) -> None:
    """The refund sent to another account than the money came from, by ``clerk``, and
    why: the account and the reason are personal data, kept redactable."""
    record(
        session,
        "refund.account_changed",
        actor_id=clerk.id if clerk is not None else None,
        subject_id=payment.payer_user_id,
        object=("refund", refund.public_id),
        details={"payment": payment.public_id},
        personal={"iban": refund.creditor_iban, "reason": refund.account_reason},
    )


def can_transition_refund(refund: Refund, to_status: str) -> bool:
    return to_status in REFUND_TRANSITIONS[refund.status]


def transition_refund(refund: Refund, to_status: str, cause: str, now: dt.datetime) -> None:
    """Move ``refund`` to ``to_status``, recording when (``now``) and why; raise if not
    allowed. A second clerk's decision moves a refund awaiting approval on, the provider's
    answer one that was sent; the clerk who asked for it is :attr:`Refund.requested_by_id`."""
    if not can_transition_refund(refund, to_status):
        raise IllegalTransition(refund, to_status)
    session = object_session(refund)
    if session is not None:
        _audit(session, refund, to_status, cause)
    refund.transitions.append(
        RefundTransition(from_status=refund.status, to_status=to_status, cause=cause[:200], at=now)
    )
    refund.status = to_status
