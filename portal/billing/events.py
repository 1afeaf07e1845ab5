"""What billing tells the rest of the portal: a payment succeeded, a refund went through.

Subscribers run inside the same database transaction, so what they record (a receipt and its
number) commits or rolls back with the payment. Side effects outside the database belong
after commit (see :func:`portal.tasks.enqueue_after_commit` and :data:`after_commit`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from portal.billing.models import Payment, Refund

_subscribers: dict[type, dict[str, object]] = defaultdict(dict)


@dataclass(frozen=True)
class PaymentSucceeded:
    payment: Payment


@dataclass(frozen=True)
class RefundSucceeded:
    refund: Refund


def subscribe(event_type: type, name: str, handler) -> None:
    """Call ``handler(dbsession, event)`` for each ``event_type``; ``name`` identifies the
    subscriber, so configuring the application again replaces it rather than adding a twin."""
    _subscribers[event_type][name] = handler


def notify(dbsession, event) -> None:
    for handler in list(_subscribers[type(event)].values()):
        handler(dbsession, event)
