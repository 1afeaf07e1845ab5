"""Receipts: signed PDF/A receipts and credit notes that anyone can verify (kinds of document)."""

from portal.billing import events
from portal.i18n import _
from portal.receipts.issuing import (
    CreditNoteKind,
    ReceiptKind,
    issue_credit_note,
    issue_receipt,
)


def includeme(config) -> None:
    config.add_document_kind(ReceiptKind())
    config.add_document_kind(CreditNoteKind())
    issuer = config.registry["document_issuer"]
    events.subscribe(
        events.PaymentSucceeded,
        "receipts",
        lambda dbsession, event: issue_receipt(issuer, dbsession, event.payment),
    )
    events.subscribe(
        events.RefundSucceeded,
        "receipts",
        lambda dbsession, event: issue_credit_note(issuer, dbsession, event.refund),
    )
    config.add_route(
        "receipt_pdf", "/receipts/{number}.pdf", factory="portal.receipts.views.receipt_factory"
    )
    config.add_route("receipts_zip", "/receipts/year/{year}.zip")
    config.add_route("receipts", "/receipts")
    config.add_navigation_item("receipts", _("Receipts"), "account")
