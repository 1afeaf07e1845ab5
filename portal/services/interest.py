"""Late payment interest on tax bills.

Rule (Actual/365, simple interest): for each day after the due date until the day of payment,
what is still owed on the bill earns ``rate / 100 / 365``; the whole amount
``owed × rate / 100 × days / 365`` is computed exactly with :class:`decimal.Decimal` and rounded
once, on the total, to the currency's minor unit with ROUND_HALF_UP. Leap years still divide
by 365. Nothing is due on the due date itself.

Interest is billed when the payer pays: a separate "interest" bill of the same service,
linked to the tax bill (:class:`~portal.services.models.LateInterestCharge`), is issued and
paid in the same payment. Interest already billed (paid or still open) is deducted, so paying
after a failed attempt never charges a day twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from pyramid.i18n import TranslationString
from sqlalchemy import func, select

from portal.billing import BillLineInput, issue_bill, with_status
from portal.billing.models import Bill
from portal.catalogue.interfaces import TAX, public_services
from portal.i18n import _
from portal.localized import in_every_language, localized, message_in
from portal.money import Money
from portal.services.models import LateInterestCharge
from portal.settings import SettingsError

RATE_SETTING = "services.tax.interest_rate_percent"
DEFAULT_RATE = Decimal("8")
DAYS_IN_YEAR = Decimal(365)


def interest_rate(settings) -> Decimal:
    """The annual rate in percent from the settings; a bad value stops the portal at start."""
    text = str(settings.get(RATE_SETTING, DEFAULT_RATE)).strip()
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise SettingsError(f"{RATE_SETTING} must be a number of percent, not {text!r}") from None
    if not rate.is_finite() or not 0 <= rate <= 100:
        raise SettingsError(f"{RATE_SETTING} must be between 0 and 100")
    return rate


def days_late(due_date: dt.date, on: dt.date) -> int:
    return max(0, (on - due_date).days)


def late_interest(owed: Money, due_date: dt.date, on: dt.date, rate_percent: Decimal) -> Money:
    """Interest on ``owed`` for the days after ``due_date`` up to ``on`` (see the module rule)."""
    days = days_late(due_date, on)
    if days == 0 or owed.minor <= 0:
        return Money(0, owed.currency)
    exact = owed.decimal() * rate_percent / Decimal(100) * Decimal(days) / DAYS_IN_YEAR
    quantum = Decimal(1).scaleb(-owed.exponent)
    rounded = exact.quantize(quantum, rounding=ROUND_HALF_UP)
    return Money(int(rounded.scaleb(owed.exponent)), owed.currency)


def accrues_interest(registry, bill: Bill) -> bool:
    """Bills of tax services earn interest; interest bills themselves do not."""
    service = public_services(registry).get(bill.service.code)
    return service is not None and service.info.kind == TAX and bill.cancelled_at is None


def _is_interest_bill(dbsession, bill: Bill) -> bool:
    return dbsession.get(LateInterestCharge, bill.id) is not None


def _interest_billed(dbsession, bill: Bill) -> int:
    """Interest already billed on ``bill`` (minor units), cancelled interest bills excepted."""
    return int(
        dbsession.scalar(
            select(func.coalesce(func.sum(Bill.total_minor), 0))
            .join(LateInterestCharge, LateInterestCharge.bill_id == Bill.id)
            .where(LateInterestCharge.tax_bill_id == bill.id, Bill.cancelled_at.is_(None))
        )
    )


@dataclass(frozen=True)
class InterestDue:
    """Interest due on one bill on one day, with what it was computed from."""

    amount: Money
    days: int
    owed: Money
    rate_percent: Decimal


def interest_due(dbsession, bill: Bill, on: dt.date, rate_percent: Decimal) -> InterestDue:
    """Interest on ``bill`` not yet billed, if it were paid ``on`` that day."""
    (view,) = with_status(dbsession, [bill])
    owed = view.outstanding
    accrued = late_interest(owed, bill.due_date, on, rate_percent)
    unbilled = max(0, accrued.minor - _interest_billed(dbsession, bill))
    return InterestDue(
        Money(unbilled, bill.currency), days_late(bill.due_date, on), owed, rate_percent
    )


def interest_label(due: InterestDue) -> TranslationString:
    return _(
        "Late payment interest: ${days} days at ${rate}% a year",
        mapping={"days": due.days, "rate": format(due.rate_percent.normalize(), "f")},
    )


def issue_interest_bill(dbsession, bill: Bill, on: dt.date, rate_percent: Decimal) -> Bill | None:
    """Bill the interest due on ``bill`` on ``on``; None when nothing is due."""
    due = interest_due(dbsession, bill, on, rate_percent)
    if due.amount.minor <= 0:
        return None
    number = f"INT-{bill.id}-{on:%Y%m%d}"
    if dbsession.scalar(
        select(Bill.id).where(Bill.service_id == bill.service_id, Bill.number == number)
    ):
        return None
    label = interest_label(due)
    description, translations = in_every_language(
        lambda locale: f"{message_in(locale, label)} ({localized(bill, 'description', locale)})"
    )
    interest = issue_bill(
        dbsession,
        service=bill.service,
        number=number,
        description=description,
        description_translations=translations,
        due_date=on,
        lines=[BillLineInput(label, due.amount)],
        payer_user=bill.payer_user,
        payer_organisation=bill.payer_organisation,
    )
    dbsession.add(
        LateInterestCharge(
            bill_id=interest.id,
            tax_bill_id=bill.id,
            accrued_to=on,
            days=due.days,
            principal_minor=due.owed.minor,
            rate_percent=format(rate_percent.normalize(), "f"),
        )
    )
    dbsession.flush()
    return interest


class LateInterest:
    """The billing surcharge for late payment interest (see
    :mod:`portal.billing.surcharges`): previewed on the bills page, billed when paying."""

    def __init__(self, rate_percent: Decimal):
        self.rate_percent = rate_percent

    def _accruing(self, request, bills: list[Bill], on: dt.date) -> list[Bill]:
        return [
            bill
            for bill in bills
            if bill.due_date < on
            and accrues_interest(request.registry, bill)
            and not _is_interest_bill(request.dbsession, bill)
        ]

    def preview(self, request, bills: list[Bill], on: dt.date) -> dict[int, tuple[Money, str]]:
        found = {}
        for bill in self._accruing(request, bills, on):
            due = interest_due(request.dbsession, bill, on, self.rate_percent)
            if due.amount.minor > 0:
                found[bill.id] = (due.amount, request.localizer.translate(interest_label(due)))
        return found

    def issue(self, request, bills: list[Bill], on: dt.date) -> list[Bill]:
        """The interest bills to pay along with ``bills``: new ones for interest not yet
        billed, and those billed before and still open."""
        dbsession = request.dbsession
        accruing = [
            view.bill
            for view in with_status(dbsession, self._accruing(request, bills, on))
            if view.payable
        ]
        extra = []
        for bill in accruing:
            issue_interest_bill(dbsession, bill, on, self.rate_percent)
            earlier = dbsession.scalars(
                select(Bill)
                .join(LateInterestCharge, LateInterestCharge.bill_id == Bill.id)
                .where(LateInterestCharge.tax_bill_id == bill.id)
                .order_by(Bill.id)
            )
            extra += [view.bill for view in with_status(dbsession, list(earlier)) if view.payable]
        return extra

    def issued_on(self, request, bills: list[Bill]) -> dict[int, int]:
        rows = request.dbsession.execute(
            select(LateInterestCharge.bill_id, LateInterestCharge.tax_bill_id).where(
                LateInterestCharge.bill_id.in_([bill.id for bill in bills])
            )
        )
        return {bill_id: tax_bill_id for bill_id, tax_bill_id in rows}
