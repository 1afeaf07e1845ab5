"""Receipts: signed PDF/A receipts and credit notes that anyone can verify."""

from portal.billing import events
from portal.i18n import _
from portal.receipts.issuing import ReceiptIssuer
from portal.receipts.models import CREDIT_NOTE, RECEIPT
from portal.receipts.signing import ReceiptSigner
from portal.receipts.tasks import render_after_commit


def includeme(config) -> None:
    settings = config.get_settings()
    issuer = ReceiptIssuer(settings, ReceiptSigner.from_settings(settings))
    config.registry["receipt_issuer"] = issuer
    config.include("portal.mail")

    def issue_receipt(dbsession, event: events.PaymentSucceeded) -> None:
        now = config.registry["clock"].now()
        render_after_commit(dbsession, issuer.issue(dbsession, event.payment, RECEIPT, now))

    def issue_credit_note(dbsession, event: events.RefundSucceeded) -> None:
        refund = event.refund
        now = config.registry["clock"].now()
        render_after_commit(
            dbsession, issuer.issue(dbsession, refund.payment, CREDIT_NOTE, now, refund)
        )

    events.subscribe(events.PaymentSucceeded, "receipts", issue_receipt)
    events.subscribe(events.RefundSucceeded, "receipts", issue_credit_note)
    config.add_route(
        "receipt_pdf", "/receipts/{number}.pdf", factory="portal.receipts.views.receipt_factory"
    )
    config.add_route("receipts_zip", "/receipts/year/{year}.zip")
    config.add_route("receipts", "/receipts")
    config.add_route("verify", "/verify/{code}")
    config.add_route("verify_form", "/verify")
    config.add_navigation_item("receipts", _("Receipts"), "account")
