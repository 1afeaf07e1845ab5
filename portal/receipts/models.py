"""Receipts and credit notes: the documents a succeeded payment and a refund get."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.billing.models import Payment, Refund
from portal.documents.models import Document
from portal.money import Money

RECEIPT = "receipt"
CREDIT_NOTE = "credit_note"


class Receipt(Document):
    """A succeeded payment's receipt; :class:`CreditNote` shares its columns."""

    __mapper_args__ = {"polymorphic_identity": RECEIPT}

    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refund.id"), unique=True)
    amount_minor: Mapped[int | None]
    currency: Mapped[str | None] = mapped_column(String(3))

    payment: Mapped[Payment] = relationship()
    refund: Mapped[Refund | None] = relationship()

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


class CreditNote(Receipt):
    """What a refund gave back, on the payment it refunded."""

    __mapper_args__ = {"polymorphic_identity": CREDIT_NOTE}
