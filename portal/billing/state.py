"""The payment state machine: the one place that says which changes of state are allowed.

created -> started (at the provider) -> succeeded | failed | cancelled | expired;
succeeded -> partly_refunded | refunded. A payment that expired here may still be reported as
succeeded by the provider later (the payer finished just in time): the money was taken, so
the late success is accepted and posted.
"""

from __future__ import annotations

import datetime as dt

from portal.billing.models import Payment, PaymentTransition
from portal.i18n import _

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
    SUCCEEDED: _("Paid"),
    FAILED: _("Failed"),
    CANCELLED: _("Cancelled"),
    EXPIRED: _("Expired"),
    PARTLY_REFUNDED: _("Partly refunded"),
    REFUNDED: _("Refunded"),
}

#: why a payment failed, as the payer is told, by the provider's reason code (the codes
#: card processors commonly use); an unknown code is shown as the status alone
FAILURE_LABELS = {
    "card_declined": _("The card was declined by its bank."),
    "insufficient_funds": _("There was not enough money on the card."),
    "authentication_failed": _("The card's security check (3-D Secure) did not pass."),
    "expired_card": _("The card has expired."),
}

#: what a refund's status is called on the clerks' pages
REFUND_LABELS = {
    "requested": _("Sent to the provider"),
    "succeeded": _("Refunded"),
    "failed": _("Refused by the provider"),
}

#: still waiting for the payer or the provider
IN_PROGRESS = frozenset({CREATED, STARTED})
#: money was taken
SETTLED = frozenset({SUCCEEDED, PARTLY_REFUNDED, REFUNDED})


class IllegalTransition(RuntimeError):
    def __init__(self, payment: Payment, to_status: str):
        super().__init__(
            f"payment {payment.public_id}: {payment.status} -> {to_status} is not allowed"
        )
        self.from_status = payment.status
        self.to_status = to_status


def can_transition(payment: Payment, to_status: str) -> bool:
    return to_status in TRANSITIONS[payment.status]


def transition(payment: Payment, to_status: str, cause: str, now: dt.datetime) -> None:
    """Move ``payment`` to ``to_status``, recording when (``now``) and why; raise if not
    allowed."""
    if not can_transition(payment, to_status):
        raise IllegalTransition(payment, to_status)
    payment.transitions.append(
        PaymentTransition(
            from_status=payment.status, to_status=to_status, cause=cause[:200], at=now
        )
    )
    payment.status = to_status
