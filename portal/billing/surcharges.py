"""Amounts that grow on a bill after it is issued (late payment interest on a tax bill),
computed by the service that owns them rather than by the billing core.

A surcharge previews what it would add to each bill (the bills page shows it before paying)
and, when the payer pays, issues bills for it that are paid in the same payment (the review
page shows each beside the bill it is on).
Register one with ``config.add_bill_surcharge(surcharge)``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from portal.billing.models import Bill
    from portal.money import Money


class Surcharge(Protocol):
    def preview(self, request, bills: list[Bill], on: dt.date) -> dict[int, tuple[Money, str]]:
        """What paying ``on`` that day would add: bill id -> (amount, explanation)."""

    def issue(self, request, bills: list[Bill], on: dt.date) -> list[Bill]:
        """Issue what accrued on ``bills``; returns the bills to pay along with them."""

    def issued_on(self, request, bills: list[Bill]) -> dict[int, int]:
        """Which of ``bills`` this surcharge issued: surcharge bill id -> the bill it is on."""


def add_bill_surcharge(config, surcharge: Surcharge) -> None:
    config.registry.setdefault("bill_surcharges", []).append(surcharge)


def preview(request, bills: list[Bill], on: dt.date) -> dict[int, list[tuple[Money, str]]]:
    found: dict[int, list[tuple[Money, str]]] = {}
    for surcharge in request.registry.get("bill_surcharges", []):
        for bill_id, note in surcharge.preview(request, bills, on).items():
            found.setdefault(bill_id, []).append(note)
    return found


def issue(request, bills: list[Bill], on: dt.date) -> list[Bill]:
    """``bills`` and the bills surcharges add to them, each once, in a stable order."""
    to_pay = {bill.id: bill for bill in bills}
    for surcharge in request.registry.get("bill_surcharges", []):
        for bill in surcharge.issue(request, bills, on):
            to_pay.setdefault(bill.id, bill)
    return list(to_pay.values())


def issued_on(request, bills: list[Bill]) -> dict[int, int]:
    """Which of ``bills`` surcharges issued, and on which bill: surcharge bill id -> bill id."""
    found: dict[int, int] = {}
    for surcharge in request.registry.get("bill_surcharges", []):
        found.update(surcharge.issued_on(request, bills))
    return found
