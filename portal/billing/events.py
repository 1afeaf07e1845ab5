"""What billing tells the rest of the portal: a payment succeeded, a refund went through, a bill
was cancelled, a payment or a settlement report needs a clerk, a second clerk's approval was
asked for or given.

Billing announces each event through the application's Pyramid registry
(``registry.notify``); features subscribe with ``config.add_subscriber(handler, EventType)``.
Subscribers run inside the transaction that changed billing and get its ``dbsession``, so what
they record (a receipt, an application moved to a clerk's queue) commits or rolls back with it,
and a subscriber that fails rolls the whole change back. Side effects outside the database
belong after commit (see :func:`portal.tasks.enqueue_after_commit`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from portal.billing.models import ApprovalRequest, BankLine, Bill, Payment, Refund
from portal.db import registry_of
from portal.identity.models import User

if TYPE_CHECKING:
    from portal.billing.reconciliation import Discrepancy


@dataclass(frozen=True)
class PaymentSucceeded:
    """``payment`` settled: the ledger shows its bills paid (by this payment's share)."""

    payment: Payment
    dbsession: Session


@dataclass(frozen=True)
class RefundSucceeded:
    """The provider confirmed ``refund``; the ledger shows its bills owed again."""

    refund: Refund
    dbsession: Session


@dataclass(frozen=True)
class BillCancelled:
    """``bill`` was cancelled: nothing more is owed on it."""

    bill: Bill
    dbsession: Session


@dataclass(frozen=True)
class PaymentNeedsAttention:
    """``payment`` was flagged for a clerk (``payment.needs_attention`` says why): the provider
    reported something the portal will not settle on its own."""

    payment: Payment
    dbsession: Session


@dataclass(frozen=True)
class SettlementDiscrepancyFound:
    """Reconciling ``day``'s settlement report found ``discrepancy`` for a clerk to look
    into (announced by ``portal-reconcile``, never by the page that only shows a report)."""

    discrepancy: Discrepancy
    day: dt.date
    dbsession: Session


@dataclass(frozen=True)
class ApprovalRequested:
    """A clerk asked for a second clerk's approval (``approval.kind``: ``refund`` or
    ``write_off`` from billing; features announce their own kinds with a subclass): a piece of
    work for the clerks of ``approval.department_id``, open while ``approval.status`` is
    ``awaiting``."""

    approval: ApprovalRequest
    dbsession: Session


@dataclass(frozen=True)
class ApprovalDecided:
    """A second clerk approved or rejected ``approval`` (``approval.status``,
    ``approval.decided_by_id``), or the clerk who asked withdrew it (``withdrawn``, decided by
    nobody); what it was about has been done, or not."""

    approval: ApprovalRequest
    dbsession: Session


def announce(
    event: PaymentSucceeded
    | RefundSucceeded
    | BillCancelled
    | PaymentNeedsAttention
    | SettlementDiscrepancyFound
    | ApprovalRequested
    | ApprovalDecided
    | BankLineUnmatched
    | BankLineDecided,
) -> None:
    """Tell the subscribers of the portal whose session made ``event``."""
    registry_of(event.dbsession).notify(event)


@dataclass(frozen=True)
class BankLineUnmatched:
    """A credit of an imported bank statement matched no bill, or several: work for the
    clerks of ``line.department_id``, who assign it to bills or return it."""

    line: BankLine
    dbsession: Session


@dataclass(frozen=True)
class BankLineDecided:
    """A clerk assigned an unmatched bank credit to bills or returned it (``line.status``)."""

    line: BankLine
    actor: User
    dbsession: Session
