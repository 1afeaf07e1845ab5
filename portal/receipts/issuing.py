"""Issuing receipts (for succeeded payments) and credit notes (for refunds).

A receipt's number is taken in the payment's own transaction (gap-free); its PDF is rendered,
signed and stored once after that transaction commits, then e-mailed to the payer. A
rolled-back payment therefore leaves neither a number nor a mail behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import select, update

from portal.billing.reference import printed
from portal.i18n import _, document_localizer
from portal.money import Money
from portal.receipts.models import CREDIT_NOTE, RECEIPT, Receipt
from portal.receipts.numbering import ReceiptNumberer
from portal.receipts.render import qr_data_uri, render_pdf

log = logging.getLogger(__name__)

SERIES = {RECEIPT: "R", CREDIT_NOTE: "CN"}
#: unambiguous letters and digits for codes people type from paper
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))


def display_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def document_title(receipt: Receipt) -> str:
    """ "Receipt" or "Credit note", in the payer's language."""
    title = _("Receipt") if receipt.kind == RECEIPT else _("Credit note")
    return document_localizer(receipt.locale).translate(title)


class ReceiptIssuer:
    """Everything receipts need from settings, in one place."""

    def __init__(self, settings, signer):
        self.settings = settings
        self.signer = signer
        self.timezone = ZoneInfo(settings.get("portal.timezone", "UTC"))
        self.base_url = settings["portal.base_url"]
        self.authority = {
            "name": settings.get("receipts.authority_name", "Public Services Payments"),
            "address": settings.get("receipts.authority_address", ""),
        }

    def issue(self, dbsession, payment, kind: str, now: dt.datetime, refund=None) -> Receipt:
        """Record the receipt (or credit note) issued ``now`` and take its number (of the
        fiscal year ``now`` falls in); idempotent."""
        query = select(Receipt).where(Receipt.payment_id == payment.id, Receipt.kind == kind)
        if refund is not None:
            query = query.where(Receipt.refund_id == refund.id)
        existing = dbsession.scalar(query)
        if existing is not None:
            return existing
        issued_at = now
        year = issued_at.astimezone(self.timezone).year
        series = SERIES[kind]
        sequence = ReceiptNumberer(dbsession).next(series, year)
        amount = refund.amount if refund is not None else payment.amount
        receipt = Receipt(
            kind=kind,
            series=series,
            fiscal_year=year,
            sequence=sequence,
            number=f"{series}-{year}-{sequence:06d}",
            verification_code=new_verification_code(),
            payment_id=payment.id,
            refund_id=refund.id if refund else None,
            payer_user_id=payment.payer_user_id,
            amount_minor=amount.minor,
            currency=amount.currency,
            locale=payment.payer_user.locale or "en",
            issued_at=issued_at,
        )
        dbsession.add(receipt)
        dbsession.flush()
        log.info("issued %s %s for payment %s", kind, receipt.number, payment.public_id)
        return receipt

    def verify_url(self, receipt: Receipt) -> str:
        return f"{self.base_url}/verify/{receipt.verification_code}"

    def data(self, receipt: Receipt) -> dict:
        """The receipt's content: what is printed and what is attached as JSON."""
        payment = receipt.payment
        locale = receipt.locale
        if receipt.kind == CREDIT_NOTE:
            bills = self._credit_note_bills(receipt)
        else:
            bills = self._receipt_bills(receipt)
        user = payment.payer_user
        organisation = None
        if payment.payer_organisation_id is not None:
            organisation = next(
                (o.name for o in user.organisations if o.id == payment.payer_organisation_id), None
            )
        return {
            "kind": receipt.kind,
            "number": receipt.number,
            "issued_at": receipt.issued_at.isoformat(),
            "issued": format_datetime(
                receipt.issued_at, "long", tzinfo=self.timezone, locale=locale
            ),
            "authority": self.authority,
            "payer": user.display_name,
            "organisation": organisation,
            "bills": bills,
            "total": receipt.amount.format(locale),
            "total_minor": receipt.amount_minor,
            "currency": receipt.currency,
            "method": payment.method,
            "provider_reference": payment.provider_payment_id,
            "payment_reference": payment.public_id,
            "reason": receipt.refund.reason if receipt.refund else None,
            "verification_code": display_code(receipt.verification_code),
            "verify_url": self.verify_url(receipt),
        }

    @staticmethod
    def _bill(bill, amount: Money, locale: str, lines: list[dict]) -> dict:
        """One bill of a document with the amount the document is about and its item lines,
        which add up to that amount."""
        return {
            "description": bill.description,
            "service": bill.service.name,
            "number": bill.number,
            "reference": printed(bill.reference or ""),
            "amount": amount.format(locale),
            "amount_minor": amount.minor,
            "lines": lines,
        }

    def _receipt_bills(self, receipt: Receipt) -> list[dict]:
        """What the payment paid on each bill, with the bill's items; a bill paid in part
        before shows that part as a line, so the items add up to what this payment paid."""
        locale, currency = receipt.locale, receipt.currency
        item = lambda description, minor: {  # noqa: E731
            "description": description,
            "amount": Money(minor, currency).format(locale),
            "amount_minor": minor,
        }
        translate = document_localizer(locale).translate
        bills = []
        for allocation in receipt.payment.allocations:
            bill = allocation.bill
            lines = [item(line.description, line.amount_minor) for line in bill.lines]
            before = allocation.amount_minor - sum(line.amount_minor for line in bill.lines)
            if before:
                lines.append(item(translate(_("Paid before")), before))
            amount = Money(allocation.amount_minor, currency)
            bills.append(self._bill(bill, amount, locale, lines))
        return bills

    def _credit_note_bills(self, receipt: Receipt) -> list[dict]:
        """The bills the refund gave money back on, each with what was given back on it."""
        return [
            self._bill(line.bill, Money(line.amount_minor, receipt.currency), receipt.locale, [])
            for line in receipt.refund.lines
        ]

    def render(self, dbsession, receipt: Receipt) -> None:
        """Render, sign and store the PDF once; stored bytes are never replaced."""
        if receipt.pdf is not None:
            return
        data = self.data(receipt)
        translate = document_localizer(receipt.locale).translate
        original = None
        if receipt.kind == CREDIT_NOTE:
            original = dbsession.scalar(
                select(Receipt.number).where(
                    Receipt.payment_id == receipt.payment_id, Receipt.kind == RECEIPT
                )
            )
        context = dict(
            data,
            locale=receipt.locale,
            qr=qr_data_uri(data["verify_url"]),
            original_number=original,
            title=document_title(receipt),
            total_label=translate(
                _("Total paid") if receipt.kind == RECEIPT else _("Total refunded")
            ),
        )
        pdf = render_pdf("receipts/receipt.jinja2", context, data, receipt.locale)
        signed = self.signer.sign(
            pdf, reason=f"{context['title']} {receipt.number}", location=self.authority["name"]
        )
        # Stored once: if another worker stored this receipt meanwhile, its bytes stay.
        stored = dbsession.execute(
            update(Receipt)
            .where(Receipt.id == receipt.id, Receipt.pdf.is_(None))
            .values(pdf=signed, sha256=hashlib.sha256(signed).hexdigest())
            .execution_options(synchronize_session=False)
        )
        if stored.rowcount == 0:
            log.info("receipt %s was stored by another worker", receipt.number)
        dbsession.refresh(receipt)
