"""Receipts: signed PDF/A receipts and credit notes that anyone can verify (kinds of document)."""

from portal.billing.events import PaymentSucceeded, RefundSucceeded
from portal.clock import clock
from portal.documents.kinds import document_issuer
from portal.i18n import _
from portal.receipts.issuing import (
    CreditNoteKind,
    ReceiptKind,
    issue_credit_note,
    issue_receipt,
)
from portal.receipts.views import documents_by_payment


def includeme(config) -> None:
    config.add_document_kind(ReceiptKind())
    config.add_document_kind(CreditNoteKind())
    issuer = document_issuer(config.registry)

    def receipt_for(event: PaymentSucceeded) -> None:
        now = clock(config.registry).now()
        issue_receipt(issuer, event.dbsession, event.payment, now, once=True)

    def credit_note_for(event: RefundSucceeded) -> None:
        issue_credit_note(issuer, event.dbsession, event.refund, clock(config.registry).now())

    config.add_subscriber(receipt_for, PaymentSucceeded)
    config.add_subscriber(credit_note_for, RefundSucceeded)
    config.add_payment_documents(documents_by_payment)
    config.add_route(
        "receipt_pdf", "/receipts/{number}.pdf", factory="portal.receipts.views.receipt_factory"
    )
    config.add_route("receipts_zip", "/receipts/year/{year}.zip")
    config.add_route("receipts", "/receipts")
    config.add_navigation_item("receipts", _("Receipts"), "account")
