"""Receipts and credit notes: numbered without gaps per fiscal year, stored once as signed PDFs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.billing.models import Payment, Refund
from portal.db import Base
from portal.money import Money

RECEIPT = "receipt"
CREDIT_NOTE = "credit_note"


class ReceiptCounter(Base):
    """The last number used in a series and year. Taking a number updates this row inside the
    issuing transaction: a rolled-back payment gives its number back, so there are no gaps."""

    __tablename__ = "receipt_counter"

    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)


class Receipt(Base):
    __tablename__ = "receipt"
    __table_args__ = (UniqueConstraint("series", "fiscal_year", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    series: Mapped[str] = mapped_column(String(16))
    fiscal_year: Mapped[int]
    sequence: Mapped[int]
    number: Mapped[str] = mapped_column(String(32), unique=True)
    verification_code: Mapped[str] = mapped_column(String(16), unique=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refund.id"), unique=True)
    payer_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    amount_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    issued_at: Mapped[dt.datetime]
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    sha256: Mapped[str | None] = mapped_column(String(64))
    emailed_at: Mapped[dt.datetime | None]

    payment: Mapped[Payment] = relationship()
    refund: Mapped[Refund | None] = relationship()

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)
