"""Refunds as the rest of the portal asks for them: recorded, and sent to the provider once the
transaction commits, so no caller can record one and forget to send it.

Here rather than in :mod:`portal.billing.payments` because sending is a job
(:mod:`portal.billing.tasks`), and the jobs apply payments.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from portal.billing.models import Bill, Payment, Refund
from portal.billing.payments import record_refund, refundable_on_bill
from portal.billing.tasks import send_refund_after_commit
from portal.money import Money


def request_refund(
    dbsession: Session,
    payment: Payment,
    amounts: Mapping[int, Money],
    seen_refundable: Money,
    reason: str,
    clerk=None,
) -> Refund:
    """Refund ``amounts`` (bill id -> money) of ``payment``, asked for by ``clerk`` who saw
    ``seen_refundable`` as still refundable (a :class:`~portal.refusals.Refusal` if it may not
    be made); sent to the provider once the transaction commits."""
    refund = record_refund(dbsession, payment, amounts, seen_refundable, reason, clerk)
    send_refund_after_commit(dbsession, refund)
    return refund


def refund_bill(dbsession: Session, bill: Bill, reason: str, clerk=None) -> Refund | None:
    """Give back in full what the payment that settled ``bill`` can still give back on it;
    None if there is nothing to give back (never paid, or already refunded or being so)."""
    found = refundable_on_bill(dbsession, bill.id)
    if found is None:
        return None
    payment, amount = found
    return request_refund(dbsession, payment, {bill.id: amount}, payment.refundable, reason, clerk)
