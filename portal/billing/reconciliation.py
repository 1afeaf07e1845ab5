"""Reconciliation: the provider's settlement report for a day against what the portal recorded.

A payment or refund the provider paid out must be settled here too, for the same amount, and
what the portal settled must appear in the provider's report. The portal always learns of a
settlement after the provider made it, so something the portal settled shortly after midnight
may sit in the previous day's report: that report is consulted before calling it missing.

A clerk reconciles their own departments' money: the report's lines about payments of their
services' bills and refunds of those payments. A payment of bills of several departments is
one line at the provider that cannot be split, so it is shown whole to each of those
departments (as the payment's page is); a line the portal cannot place (an unknown reference)
belongs to no department and is shown to administrators only.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from pyramid.i18n import TranslationString
from sqlalchemy import String, cast, select

from portal.billing import events, state
from portal.billing.models import Bill, JournalTransaction, Payment, PaymentAllocation, Refund
from portal.billing.providers import SettlementLine
from portal.catalogue.models import Service
from portal.i18n import _
from portal.localized import SOURCE_LANGUAGE, message_in
from portal.money import Money

MISSING_IN_PORTAL = "missing_in_portal"
MISSING_IN_REPORT = "missing_in_report"
AMOUNT_DIFFERS = "amount_differs"
PAYMENT = "payment"
REFUND = "refund"


@dataclass(frozen=True)
class Discrepancy:
    """One thing the report and the portal disagree on; amounts are positive for refunds too."""

    kind: str
    what: str
    reference: str
    #: what is wrong, as a clerk reads it (in their language on the page; written out in
    #: English in the report text and the case's title)
    detail: TranslationString
    provider_amount: Money | None = None
    portal_amount: Money | None = None
    payment_public_id: str | None = None


def _written(detail: str) -> str:
    """A discrepancy's detail written out in English, for the report text (a message's
    placeholders filled in)."""
    return message_in(SOURCE_LANGUAGE, detail)


@dataclass
class Reconciliation:
    day: dt.date
    lines: list[SettlementLine]
    matched: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Discrepancy]:
        return [d for d in self.discrepancies if d.kind == kind]

    @property
    def missing_in_portal(self) -> list[Discrepancy]:
        return self.of_kind(MISSING_IN_PORTAL)

    @property
    def missing_in_report(self) -> list[Discrepancy]:
        return self.of_kind(MISSING_IN_REPORT)

    @property
    def amount_differences(self) -> list[Discrepancy]:
        return self.of_kind(AMOUNT_DIFFERS)

    @property
    def clean(self) -> bool:
        return not self.discrepancies

    def totals(self) -> dict[str, dict[str, Money]]:
        """Per currency: what was paid in, refunded, kept as fees, and paid out (net)."""
        sums: dict[str, dict[str, int]] = defaultdict(
            lambda: {"payments": 0, "refunds": 0, "fees": 0}
        )
        for line in self.lines:
            row = sums[line.amount.currency]
            row["payments" if line.kind == PAYMENT else "refunds"] += line.amount.minor
            row["fees"] += line.fee.minor
        return {
            currency: {
                "payments": Money(row["payments"], currency),
                "refunds": Money(-row["refunds"], currency),
                "fees": Money(row["fees"], currency),
                "net": Money(row["payments"] + row["refunds"] - row["fees"], currency),
            }
            for currency, row in sorted(sums.items())
        }


def day_span(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    return start, start + dt.timedelta(days=1)


def _reported(lines: list[SettlementLine]) -> dict[tuple[str, str], Money]:
    """Amounts per (kind, reference), refunds made positive; a repeated line adds up."""
    amounts: dict[tuple[str, str], Money] = {}
    for line in lines:
        amount = line.amount if line.kind == PAYMENT else -line.amount
        key = (line.kind, line.reference)
        amounts[key] = amounts[key] + amount if key in amounts else amount
    return amounts


def _paying(departments: frozenset[int]):
    """The ids of payments of at least one bill of ``departments``' services."""
    return (
        select(PaymentAllocation.payment_id)
        .join(Bill, PaymentAllocation.bill_id == Bill.id)
        .join(Service, Bill.service_id == Service.id)
        .where(Service.department_id.in_(departments))
    )


def _lines_of(
    dbsession, provider_name: str, lines: list[SettlementLine], departments: frozenset[int]
) -> list[SettlementLine]:
    """The report's lines about payments to ``departments`` and refunds of them."""
    payments = {line.reference for line in lines if line.kind == PAYMENT}
    refunds = {line.reference for line in lines if line.kind != PAYMENT}
    ours = set(
        dbsession.scalars(
            select(Payment.public_id).where(
                Payment.public_id.in_(payments),
                Payment.provider == provider_name,
                Payment.id.in_(_paying(departments)),
            )
        )
    )
    ours_refunded = set(
        dbsession.scalars(
            select(Refund.public_id)
            .join(Payment, Refund.payment_id == Payment.id)
            .where(
                Refund.public_id.in_(refunds),
                Payment.provider == provider_name,
                Payment.id.in_(_paying(departments)),
            )
        )
    )
    return [
        line
        for line in lines
        if line.reference in (ours if line.kind == PAYMENT else ours_refunded)
    ]


def reconcile(
    dbsession, provider, day: dt.date, departments: frozenset[int] | None = None
) -> Reconciliation:
    """Compare ``provider``'s settlement report for the UTC ``day`` with the portal's records:
    all of them, or those about payments to ``departments``."""
    lines = provider.settlement_report(day)
    if departments is not None:
        lines = _lines_of(dbsession, provider.name, lines, departments)
    result = Reconciliation(day=day, lines=lines)
    reported = _reported(lines)
    for (kind, reference), amount in reported.items():
        if kind == PAYMENT:
            _check_payment(dbsession, provider.name, reference, amount, result)
        else:
            _check_refund(dbsession, provider.name, reference, amount, result)

    unreported = [
        item
        for item in _settled_here(dbsession, provider.name, day, departments)
        if (item[0], item[1]) not in reported
    ]
    if unreported:
        earlier = _reported(provider.settlement_report(day - dt.timedelta(days=1)))
        for what, reference, amount, payment_id in unreported:
            if (what, reference) in earlier:
                continue
            result.discrepancies.append(
                Discrepancy(
                    MISSING_IN_REPORT,
                    what,
                    reference,
                    _("settled in the portal, not in the provider's report"),
                    portal_amount=amount,
                    payment_public_id=payment_id,
                )
            )
    return result


def _check_payment(dbsession, provider_name, reference, amount, result) -> None:
    payment = dbsession.scalar(
        select(Payment).where(Payment.public_id == reference, Payment.provider == provider_name)
    )
    if payment is None:
        result.discrepancies.append(
            Discrepancy(
                MISSING_IN_PORTAL,
                PAYMENT,
                reference,
                _("unknown reference"),
                provider_amount=amount,
            )
        )
    elif payment.status not in state.SETTLED:
        result.discrepancies.append(
            Discrepancy(
                MISSING_IN_PORTAL,
                PAYMENT,
                reference,
                _(
                    "settled at the provider; in the portal: ${status}",
                    mapping={"status": state.LABELS.get(payment.status, payment.status)},
                ),
                provider_amount=amount,
                portal_amount=payment.amount,
                payment_public_id=payment.public_id,
            )
        )
    elif amount != payment.amount:
        result.discrepancies.append(
            Discrepancy(
                AMOUNT_DIFFERS,
                PAYMENT,
                reference,
                _("the provider settled a different amount"),
                provider_amount=amount,
                portal_amount=payment.amount,
                payment_public_id=payment.public_id,
            )
        )
    else:
        result.matched += 1


def _check_refund(dbsession, provider_name, reference, amount, result) -> None:
    refund = dbsession.scalar(
        select(Refund)
        .join(Payment, Refund.payment_id == Payment.id)
        .where(Refund.public_id == reference, Payment.provider == provider_name)
    )
    if refund is None:
        result.discrepancies.append(
            Discrepancy(
                MISSING_IN_PORTAL, REFUND, reference, _("unknown refund"), provider_amount=amount
            )
        )
    elif refund.status != state.REFUND_SUCCEEDED:
        result.discrepancies.append(
            Discrepancy(
                MISSING_IN_PORTAL,
                REFUND,
                reference,
                _(
                    "refunded by the provider; in the portal: ${status}",
                    mapping={"status": state.REFUND_LABELS.get(refund.status, refund.status)},
                ),
                provider_amount=amount,
                portal_amount=refund.amount,
                payment_public_id=refund.payment.public_id,
            )
        )
    elif amount != refund.amount:
        result.discrepancies.append(
            Discrepancy(
                AMOUNT_DIFFERS,
                REFUND,
                reference,
                _("the provider refunded a different amount"),
                provider_amount=amount,
                portal_amount=refund.amount,
                payment_public_id=refund.payment.public_id,
            )
        )
    else:
        result.matched += 1


def _settled_here(dbsession, provider_name: str, day: dt.date, departments):
    """(what, reference, amount, payment reference) the portal settled during ``day``: payments
    by their settlement time, refunds by the time their ledger transaction was posted; those
    of payments to ``departments`` if not ``None``."""
    start, end = day_span(day)
    scope = [] if departments is None else [Payment.id.in_(_paying(departments))]
    payments = dbsession.scalars(
        select(Payment).where(
            Payment.provider == provider_name,
            Payment.status.in_(state.SETTLED),
            Payment.settled_at >= start,
            Payment.settled_at < end,
            *scope,
        )
    )
    for payment in payments:
        yield PAYMENT, payment.public_id, payment.amount, payment.public_id
    posted = "refund:" + cast(Refund.id, String) + ":settled"
    refunds = dbsession.scalars(
        select(Refund)
        .join(Payment, Refund.payment_id == Payment.id)
        .join(JournalTransaction, JournalTransaction.idempotency == posted)
        .where(
            Payment.provider == provider_name,
            Refund.status == state.REFUND_SUCCEEDED,
            JournalTransaction.created_at >= start,
            JournalTransaction.created_at < end,
            *scope,
        )
    )
    for refund in refunds:
        yield REFUND, refund.public_id, refund.amount, refund.payment.public_id


def announce_discrepancies(dbsession, result: Reconciliation) -> None:
    """Tell the portal of each discrepancy (the work queue opens a case for a clerk)."""
    for discrepancy in result.discrepancies:
        events.announce(events.SettlementDiscrepancyFound(discrepancy, result.day, dbsession))


def format_report(result: Reconciliation) -> str:
    """The reconciliation as plain text, for the console and for logs."""
    out = [f"Reconciliation of {result.day.isoformat()} (UTC)"]
    for currency, totals in result.totals().items():
        out.append(
            f"  {currency}: payments {totals['payments']}, refunds {totals['refunds']}, "
            f"fees {totals['fees']}, net payout {totals['net']}"
        )
    out.append(f"  {len(result.lines)} report lines, {result.matched} matched")
    sections = (
        (MISSING_IN_PORTAL, "Settled at the provider, missing in the portal"),
        (MISSING_IN_REPORT, "Settled in the portal, missing from the provider's report"),
        (AMOUNT_DIFFERS, "Amounts that differ"),
    )
    for kind, title in sections:
        found = result.of_kind(kind)
        if not found:
            continue
        out.append(f"{title}: {len(found)}")
        for item in found:
            amounts = ", ".join(
                f"{side} {amount}"
                for side, amount in (
                    ("provider", item.provider_amount),
                    ("portal", item.portal_amount),
                )
                if amount is not None
            )
            out.append(f"  {item.what} {item.reference}: {_written(item.detail)} ({amounts})")
    out.append(
        "No discrepancies." if result.clean else f"{len(result.discrepancies)} discrepancies."
    )
    return "\n".join(out)
