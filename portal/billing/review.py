"""What the review page shows before a payment is sent to the provider: each bill with the
late interest billed on it beside it (not as a bill of its own), and who pays."""

from __future__ import annotations

from dataclasses import dataclass

from portal.billing import surcharges
from portal.billing.models import Bill, Payment
from portal.identity.models import Organisation
from portal.localized import localized
from portal.money import Money


@dataclass(frozen=True)
class ReviewRow:
    """One bill of a payment as the review page shows it: what the bill itself comes to and
    the late interest billed on it, in separate columns."""

    bill: Bill
    amount: Money
    interest: Money
    interest_notes: list[str]

    @property
    def total(self) -> Money:
        return self.amount + self.interest


def review_rows(request, payment: Payment) -> list[ReviewRow]:
    """The payment's bills, each surcharge (late interest) beside the bill it is on."""
    allocations = {allocation.bill_id: allocation for allocation in payment.allocations}
    bills = [allocation.bill for allocation in payment.allocations]
    on = {
        surcharge: bill_id
        for surcharge, bill_id in surcharges.issued_on(request, bills).items()
        if bill_id in allocations
    }
    zero = Money(0, payment.currency)
    rows = {
        bill.id: ReviewRow(
            bill, Money(allocations[bill.id].amount_minor, payment.currency), zero, []
        )
        for bill in sorted(bills, key=lambda bill: (bill.due_date, bill.id))
        if bill.id not in on
    }
    for surcharge, bill_id in on.items():
        row = rows[bill_id]
        extra = allocations[surcharge]
        rows[bill_id] = ReviewRow(
            row.bill,
            row.amount,
            row.interest + Money(extra.amount_minor, payment.currency),
            row.interest_notes
            + [
                localized(line, "description", request.localizer.locale_name)
                for line in extra.bill.lines
            ],
        )
    return list(rows.values())


def payer_names(dbsession, payment: Payment) -> tuple[str, str | None]:
    """Who pays: the person, and the organisation they pay for (if any)."""
    organisation = None
    if payment.payer_organisation_id is not None:
        organisation = dbsession.get(Organisation, payment.payer_organisation_id).name
    person = payment.payer_user
    return (person.display_name if person is not None else organisation or ""), organisation
