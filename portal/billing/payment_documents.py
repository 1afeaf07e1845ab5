"""The documents other features issue for a payment (receipts, credit notes), shown on the
payer's payment pages. Billing does not know who issues them: a feature registers a lister
with ``config.add_payment_documents(lister)`` from its ``includeme``.

A lister takes a database session and payment ids and returns, by payment id, the documents
in the order they were issued; a document has ``number``, ``kind`` and ``pdf`` (None while it
is being prepared).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


def add_payment_documents(config, lister: Callable) -> None:
    config.registry.setdefault("payment_documents", []).append(lister)


def documents_of(request, payment_ids: Iterable[int]) -> dict[int, list]:
    """Every registered feature's documents for ``payment_ids``, by payment id."""
    payment_ids = list(payment_ids)
    found: dict[int, list] = {}
    for lister in request.registry.get("payment_documents", []):
        for payment_id, documents in lister(request.dbsession, payment_ids).items():
            found.setdefault(payment_id, []).extend(documents)
    return found
