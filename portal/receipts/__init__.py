"""Receipts: signed PDF/A receipts and credit notes that anyone can verify."""

from portal.billing.events import PaymentSucceeded, RefundSucceeded
from portal.i18n import _
from portal.receipts.issuing import ReceiptIssuer
from portal.receipts.models import CREDIT_NOTE, RECEIPT
from portal.receipts.ratelimit import install_verify_limiter
from portal.receipts.signing import ReceiptSigner
from portal.receipts.tasks import render_after_commit


def includeme(config) -> None:
    settings = config.get_settings()
    issuer = ReceiptIssuer(settings, ReceiptSigner.from_settings(settings))
    config.registry["receipt_issuer"] = issuer
    install_verify_limiter(config.registry)
    config.include("portal.mail")

    def issue_receipt(event: PaymentSucceeded) -> None:
        dbsession = event.dbsession
        render_after_commit(dbsession, issuer.issue(dbsession, event.payment, RECEIPT))

    def issue_credit_note(event: RefundSucceeded) -> None:
        dbsession, refund = event.dbsession, event.refund
        render_after_commit(dbsession, issuer.issue(dbsession, refund.payment, CREDIT_NOTE, refund))

    config.add_subscriber(issue_receipt, PaymentSucceeded)
    config.add_subscriber(issue_credit_note, RefundSucceeded)
    config.add_route(
        "receipt_pdf", "/receipts/{number}.pdf", factory="portal.receipts.views.receipt_factory"
    )
    config.add_route("receipts_zip", "/receipts/year/{year}.zip")
    config.add_route("receipts", "/receipts")
    config.add_route("verify", "/verify/{code}")
    config.add_route("verify_form", "/verify")
    config.add_navigation_item("receipts", _("Receipts"), "account")
