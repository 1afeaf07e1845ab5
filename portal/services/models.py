"""What the service plugins keep: fee schedules, utility accounts, tax assessments and the
late payment interest charged on tax bills (the ``service`` rows are :mod:`portal.catalogue`'s)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.catalogue.models import Service
from portal.db import Base, utcnow
from portal.identity.models import User
from portal.localized import translations_column
from portal.money import Money


class FeeScheduleEntry(Base):
    """The price of one item of a service from a day on. The price in force on a day is the
    entry with the latest ``effective_from`` on or before it; bills copy the amount when issued,
    so a new entry changes only bills issued afterwards."""

    __tablename__ = "fee_schedule"
    __table_args__ = (UniqueConstraint("service_code", "item_code", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_code: Mapped[str] = mapped_column(String(64), index=True)
    item_code: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    #: the label in other languages (:mod:`portal.localized`)
    label_translations: Mapped[dict[str, str]] = translations_column()
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    effective_from: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


class UtilityAccount(Base):
    """A customer account of a person with a utility company (water, waste collection),
    known by the company's customer number."""

    __tablename__ = "utility_account"
    __table_args__ = (UniqueConstraint("service_id", "customer_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    customer_number: Mapped[str] = mapped_column(String(64))
    payer_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    service: Mapped[Service] = relationship()
    payer_user: Mapped[User] = relationship()


class UtilityBill(Base):
    """Which utility account a bill was issued on."""

    __tablename__ = "utility_bill"

    bill_id: Mapped[int] = mapped_column(
        ForeignKey("bill.id", ondelete="CASCADE"), primary_key=True
    )
    utility_account_id: Mapped[int] = mapped_column(ForeignKey("utility_account.id"), index=True)


class LateInterestCharge(Base):
    """A bill for late payment interest on a tax bill, and how it was computed: kept so the
    amount can be explained and checked later."""

    __tablename__ = "late_interest"

    bill_id: Mapped[int] = mapped_column(
        ForeignKey("bill.id", ondelete="CASCADE"), primary_key=True
    )
    tax_bill_id: Mapped[int] = mapped_column(ForeignKey("bill.id"), index=True)
    accrued_to: Mapped[dt.date] = mapped_column(Date)
    days: Mapped[int]
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    #: the annual rate in percent, as configured (exact decimal text, e.g. "8" or "7.25")
    rate_percent: Mapped[str] = mapped_column(String(16))


class TaxAssessment(Base):
    """The tax office's assessment of one property for one year; its instalments are bills.

    A property has one assessment in force a year: another for the same property and year is
    refused, here by the database as well, whichever way it arrives (file, API, script),
    unless it is a correction, which takes the place of the one it corrects (``corrected_at``
    set on the old one, whose unpaid bills are cancelled)."""

    __tablename__ = "tax_assessment"
    __table_args__ = (
        UniqueConstraint("service_id", "number"),
        Index(
            "uq_tax_assessment_in_force",
            "service_id",
            "property_ref",
            "year",
            unique=True,
            sqlite_where=text("corrected_at IS NULL"),
            postgresql_where=text("corrected_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    number: Mapped[str] = mapped_column(String(64))
    #: the tax office's identifier of the property (cadastral number)
    property_ref: Mapped[str] = mapped_column(String(64))
    year: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: the assessment this one corrects, if it is a correction
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("tax_assessment.id"))
    #: when a correction took this assessment's place
    corrected_at: Mapped[dt.datetime | None]


class TaxAssessmentBill(Base):
    """Which assessment a bill is an instalment of."""

    __tablename__ = "tax_assessment_bill"

    bill_id: Mapped[int] = mapped_column(
        ForeignKey("bill.id", ondelete="CASCADE"), primary_key=True
    )
    assessment_id: Mapped[int] = mapped_column(ForeignKey("tax_assessment.id"), index=True)
