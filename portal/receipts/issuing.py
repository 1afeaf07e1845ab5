"""Receipts (for succeeded payments) and credit notes (for refunds) as kinds of document.

A receipt's number is taken in the payment's own transaction (gap-free); the documents
pipeline renders, signs and stores it after that transaction commits, then e-mails it to
the payer. A rolled-back payment therefore leaves neither a number nor a mail behind.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload, object_session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from portal.billing import REFUNDED_STATES, method_text, printed
from portal.billing.models import Bill, Payment, PaymentAllocation, Refund, RefundLine
from portal.db import registry_of
from portal.documents.kinds import DocumentKind
from portal.i18n import _, document_localizer
from portal.localized import localized
from portal.money import Money
from portal.receipts.models import RECEIPT, CreditNote, Receipt

log = logging.getLogger(__name__)


def _bill(bill, amount: Money, locale: str, lines: list[dict]) -> dict:
    """One bill of a document with the amount the document is about and its item lines,
    which add up to that amount; its texts in the document's language."""
    return {
        "description": localized(bill, "description", locale),
        "service": localized(bill.service, "name", locale),
        "number": bill.number,
        "reference": printed(bill.reference or ""),
        "amount": amount.format(locale),
        "amount_minor": amount.minor,
        "lines": lines,
    }


class ReceiptKind(DocumentKind):
    model = Receipt
    series = "R"
    title = _("Receipt")
    template = "documents/receipt.jinja2"
    data_name = "receipt.json"
    mail = _(
        "Dear ${name},\n\nattached is your receipt ${number}.\nAnyone can check it at ${url}\n"
    )
    total_label = _("Total paid")

    def load(self, receipt: Receipt, dbsession) -> None:
        """The payment with its payer, bills and their services, then the bills' lines: 2
        statements."""
        payment = (
            dbsession.scalars(
                select(Payment)
                .where(Payment.id == receipt.payment_id)
                .options(
                    joinedload(Payment.payer_user),
                    joinedload(Payment.payer_organisation),
                    joinedload(Payment.allocations)
                    .joinedload(PaymentAllocation.bill)
                    .options(joinedload(Bill.service), selectinload(Bill.lines)),
                )
            )
            .unique()
            .one()
        )
        set_committed_value(receipt, "payment", payment)  # the session holds objects weakly

    def data(self, receipt: Receipt, issuer) -> dict:
        payment = receipt.payment
        organisation = (
            payment.payer_organisation.name if payment.payer_organisation is not None else None
        )
        return {
            "authority": issuer.authority(receipt.locale),
            # the person who paid; an organisation's bank transfer has none
            "payer": payment.payer_user.display_name if payment.payer_user else organisation,
            "organisation": organisation,
            "bills": self.bills(receipt),
            "total": receipt.amount.format(receipt.locale),
            "total_minor": receipt.amount_minor,
            "currency": receipt.currency,
            "method": method_text(payment.method, document_localizer(receipt.locale).translate)
            or None,
            "provider_reference": payment.provider_payment_id,
            "payment_reference": payment.public_id,
            "reason": receipt.refund.reason if receipt.refund else None,
        }

    def bills(self, receipt: Receipt) -> list[dict]:
        """What the payment paid on each bill, with the bill's items and the lines that make
        them add up to what this payment paid: what earlier payments paid ("Paid before"),
        then what is left owed after this one ("Still to pay"); or what it paid beyond the
        bill ("Your credit", a bank transfer of more than was owed)."""
        locale, currency = receipt.locale, receipt.currency
        item = lambda description, minor: {  # noqa: E731
            "description": description,
            "amount": Money(minor, currency).format(locale),
            "amount_minor": minor,
        }
        translate = document_localizer(locale).translate
        payment = receipt.payment
        rests = {
            a.bill_id: a.amount_minor - sum(line.amount_minor for line in a.bill.lines)
            for a in payment.allocations
        }
        # asked only when a bill is paid short: a whole payment costs no statement more
        paid_earlier = _paid_earlier(payment) if min(rests.values(), default=0) < 0 else {}
        bills = []
        for allocation in payment.allocations:
            bill = allocation.bill
            lines = [
                item(localized(line, "description", locale), line.amount_minor)
                for line in bill.lines
            ]
            rest = rests[bill.id]
            if rest > 0:
                lines.append(item(translate(_("Your credit")), rest))
            elif rest < 0:
                before = min(paid_earlier.get(bill.id, 0), -rest)
                if before:
                    lines.append(item(translate(_("Paid before")), -before))
                if -rest > before:
                    lines.append(item(translate(_("Still to pay")), rest + before))
            amount = Money(allocation.amount_minor, currency)
            bills.append(_bill(bill, amount, locale, lines))
        return bills

    def context(self, receipt: Receipt, issuer, dbsession) -> dict:
        return {
            "original_number": None,
            "total_label": document_localizer(receipt.locale).translate(self.total_label),
        }

    def verification(self, receipt: Receipt) -> dict:
        status = "valid"
        if receipt.payment.status in REFUNDED_STATES:
            status = receipt.payment.status  # refunds the provider has confirmed
        return {"status": status, "amount": receipt.amount}


def _paid_earlier(payment: Payment) -> dict[int, int]:
    """What other payments, settled before ``payment``, paid on each of its bills and kept
    (minor units; less what was refunded of them)."""
    dbsession = object_session(payment)
    if dbsession is None or payment.settled_at is None:
        return {}
    earlier = (
        select(
            PaymentAllocation.bill_id,
            func.sum(PaymentAllocation.amount_minor - PaymentAllocation.refunded_minor),
        )
        .join(Payment, PaymentAllocation.payment_id == Payment.id)
        .where(
            PaymentAllocation.bill_id.in_([a.bill_id for a in payment.allocations]),
            # before it: earlier, or at the same moment (one bank statement's credits) and
            # posted first
            or_(
                Payment.settled_at < payment.settled_at,
                and_(Payment.settled_at == payment.settled_at, Payment.id < payment.id),
            ),
        )
        .group_by(PaymentAllocation.bill_id)
    )
    return {bill_id: max(0, int(paid)) for bill_id, paid in dbsession.execute(earlier)}


class CreditNoteKind(ReceiptKind):
    model = CreditNote
    series = "CN"
    title = _("Credit note")
    mail = _(
        "Dear ${name},\n\nattached is your credit note ${number}.\nAnyone can check it at ${url}\n"
    )
    total_label = _("Total refunded")

    def load(self, credit_note: CreditNote, dbsession) -> None:
        """The refund with its payment, payer, bills and their services: 1 statement."""
        refund = (
            dbsession.scalars(
                select(Refund)
                .where(Refund.id == credit_note.refund_id)
                .options(
                    joinedload(Refund.payment).joinedload(Payment.payer_user),
                    joinedload(Refund.lines).joinedload(RefundLine.bill).joinedload(Bill.service),
                )
            )
            .unique()
            .one()
        )
        set_committed_value(credit_note, "refund", refund)  # the session holds objects weakly
        set_committed_value(credit_note, "payment", refund.payment)

    def bills(self, credit_note: CreditNote) -> list[dict]:
        """The bills the refund gave money back on, each with what was given back on it."""
        return [
            _bill(line.bill, Money(line.amount_minor, credit_note.currency), credit_note.locale, [])
            for line in credit_note.refund.lines
        ]

    def context(self, credit_note: CreditNote, issuer, dbsession) -> dict:
        original = dbsession.scalar(
            select(Receipt.number).where(
                Receipt.payment_id == credit_note.payment_id, Receipt.kind == RECEIPT
            )
        )
        return dict(super().context(credit_note, issuer, dbsession), original_number=original)

    def verification(self, credit_note: CreditNote) -> dict:
        return {"status": "valid", "amount": credit_note.amount}


def _issue(
    issuer, dbsession, payment, model: type[Receipt], now: dt.datetime, refund=None, once=False
) -> Receipt:
    """Record the document for ``payment`` (and ``refund``) issued ``now`` and take its
    number; idempotent, unless the caller knows it happens ``once`` (not looked up)."""
    if not once:
        query = select(model).where(
            model.payment_id == payment.id, model.kind == model.__mapper__.polymorphic_identity
        )
        if refund is not None:
            query = query.where(model.refund_id == refund.id)
        existing = dbsession.scalar(query)
        if existing is not None:
            return existing
    amount = refund.amount if refund is not None else payment.amount
    person = payment.payer_user
    document = issuer.issue(
        dbsession,
        model(
            payment_id=payment.id,
            refund_id=refund.id if refund else None,
            # to the person who paid; an organisation's bank transfer: to the organisation
            owner_user_id=payment.payer_user_id,
            owner_organisation_id=None if person is not None else payment.payer_organisation_id,
            amount_minor=amount.minor,
            currency=amount.currency,
            locale=(person.locale if person is not None else None) or _default_locale(dbsession),
        ),
        now,
    )
    log.info("%s %s is for payment %s", document.kind, document.number, payment.public_id)
    return document


def _default_locale(dbsession) -> str:
    """The portal's own language, for a document no person asked for."""
    settings = registry_of(dbsession).settings
    return str(settings.get("pyramid.default_locale_name") or "en")


def issue_receipt(issuer, dbsession, payment, now: dt.datetime, once: bool = False) -> Receipt:
    """The receipt of a payment that succeeded, issued in the payment's transaction;
    ``once``: the caller knows no receipt exists (PaymentSucceeded is announced once per
    payment, on its one transition to succeeded), so none is looked for."""
    return _issue(issuer, dbsession, payment, Receipt, now, once=once)


def issue_credit_note(issuer, dbsession, refund, now: dt.datetime) -> CreditNote:
    """The credit note of a refund that succeeded, issued in the refund's transaction."""
    return _issue(issuer, dbsession, refund.payment, CreditNote, now, refund)
