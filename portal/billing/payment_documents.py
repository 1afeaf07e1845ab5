"""The documents other features issue for a payment (receipts, credit notes), shown on the
payer's payment pages. Billing does not know who issues them or where they are downloaded: a
feature registers a lister with ``config.add_payment_documents(lister)`` from its
``includeme``; ``lister(request, payment_ids)`` returns, by payment id, the
:class:`PaymentDocument` rows in the order they were issued.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PaymentDocument:
    """One document of a payment as its pages list it: ``url`` is None while it is being
    prepared."""

    number: str
    title: str
    url: str | None


def add_payment_documents(config, lister: Callable) -> None:
    config.registry.setdefault("payment_documents", []).append(lister)


def documents_of(request, payment_ids: Iterable[int]) -> dict[int, list[PaymentDocument]]:
    """Every registered feature's documents for ``payment_ids``, by payment id."""
    payment_ids = list(payment_ids)
    found: dict[int, list[PaymentDocument]] = {}
    for lister in request.registry.get("payment_documents", []):
        for payment_id, documents in lister(request, payment_ids).items():
            found.setdefault(payment_id, []).extend(documents)
    return found
