"""Every receipt and credit note says what the ledger posted: per bill, the amount its
receivable moved by, and as total what the provider's clearing account moved by; a
document's bill lines add up to its total and a bill's items to the bill's line. Checked on
what a person reads in the PDF and on the data attached to it."""

from __future__ import annotations

from sqlalchemy import select

from portal.billing import ledger
from portal.billing.models import Bill, JournalTransaction
from portal.money import Money
from portal.receipts.models import CREDIT_NOTE, RECEIPT, Receipt
from tests import factories
from tests.functional.backoffice.conftest import refund_through_pages, water_tax_and_interest
from tests.functional.receipts.documents import minor, printed_document


def posted(dbsession, receipt: Receipt) -> tuple[dict[int, int], int]:
    """What the document's business event posted: (bill id -> amount, total), with the sign
    the document prints (a payment credits receivables, a refund debits them)."""
    if receipt.kind == RECEIPT:
        key, sign = f"payment:{receipt.payment_id}:settled", -1
    else:
        key, sign = f"refund:{receipt.refund_id}:settled", 1
    transaction = dbsession.scalar(
        select(JournalTransaction).where(JournalTransaction.idempotency == key)
    )
    by_bill, total = {}, 0
    for entry in transaction.entries:
        if entry.account.kind == ledger.RECEIVABLE:
            by_bill[entry.bill_id] = sign * entry.amount_minor
        elif entry.account.kind == ledger.CLEARING:
            total = -sign * entry.amount_minor
    return by_bill, total


def test_every_document_of_a_multi_bill_history_matches_the_ledger(
    signed_in, payments, dbsession, tmp_path
):
    payer = factories.user(dbsession, "citizen-ben")
    issued = water_tax_and_interest(dbsession, payer)
    water, tax, interest = issued.bills
    first = payments.settled_for(issued.bills, payer)
    clerk = signed_in("clerk-clara")
    refund_through_pages(clerk, first, {tax: "50", interest: "2.03"}, "Instalment reduced")
    refund_through_pages(clerk, first, {water: "21"}, "Water bill charged twice")
    # the bills the refunds reopened are paid again: the tax in part was paid before
    payments.settled_for([water, tax, interest], payer)

    dbsession.expire_all()
    documents = list(dbsession.scalars(select(Receipt).order_by(Receipt.id)))
    assert [d.kind for d in documents] == [RECEIPT, CREDIT_NOTE, CREDIT_NOTE, RECEIPT]
    numbers = {bill.id: bill.number for bill in dbsession.scalars(select(Bill))}
    euros = lambda minor_units: Money(minor_units, "EUR").format("en")  # noqa: E731
    for index, receipt in enumerate(documents):
        by_bill, total = posted(dbsession, receipt)
        folder = tmp_path / str(index)
        folder.mkdir()
        document = printed_document(receipt.pdf, folder)
        label = "Total paid" if receipt.kind == RECEIPT else "Total refunded"

        # what a person reads
        expected = {numbers[bill_id]: euros(amount) for bill_id, amount in by_bill.items()}
        assert document.bills == expected, receipt.number
        assert document.total == (label, euros(total)), receipt.number
        assert sum(minor(row.amount) for row in document.rows) == total, receipt.number
        for row in document.rows:
            if row.items:
                assert sum(minor(item) for item in row.items) == minor(row.amount), row

        # what is attached for machines
        data = document.data
        assert {b["number"]: b["amount_minor"] for b in data["bills"]} == {
            numbers[bill_id]: amount for bill_id, amount in by_bill.items()
        }
        assert data["total_minor"] == total == receipt.amount_minor
        assert sum(b["amount_minor"] for b in data["bills"]) == total
        for bill in data["bills"]:
            if bill["lines"]:
                assert sum(line["amount_minor"] for line in bill["lines"]) == bill["amount_minor"]

    first_receipt, tax_note, water_note, second_receipt = (
        printed_document(d.pdf, tmp_path / str(i)) for i, d in enumerate(documents)
    )
    assert first_receipt.bills == {
        water.number: "€21.00",
        tax.number: "€206.30",
        interest.number: "€2.03",
    }
    water_row = next(row for row in first_receipt.rows if row.number == water.number)
    assert water_row.items == ["€18.00", "€3.00"]
    assert tax_note.bills == {tax.number: "€50.00", interest.number: "€2.03"}
    assert water_note.bills == {water.number: "€21.00"}
    tax_row = next(row for row in second_receipt.rows if row.number == tax.number)
    assert (tax_row.amount, tax_row.items) == ("€50.00", ["€206.30", "-€156.30"])
    assert "Paid before" in second_receipt.text
