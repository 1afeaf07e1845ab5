"""Reports on the money for clerks: collections, refunds and the ageing of receivables.

Every figure is a SQL sum over the ledger (collections: the receivable credits of settled
payments; refunds: the refund lines of refunds the ledger posted; ageing: what each bill's
receivable entries say it still owes), so a report agrees to the cent with the books. A
collection or refund is dated by its ledger transaction, and days and months run in the
portal's time zone: their boundaries are worked out here as UTC instants and given to the
query, which then only compares timestamps (the same on SQLite and PostgreSQL, summer time
included).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, bindparam, case, cast, func, literal, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from portal.billing import ledger, state
from portal.billing.models import (
    Bill,
    JournalEntry,
    JournalTransaction,
    LedgerAccount,
    Payment,
    Refund,
    RefundLine,
)
from portal.catalogue.models import Service
from portal.i18n import _
from portal.identity.models import Department
from portal.money import Money
from portal.refusals import MALFORMED, Refusal

COLLECTIONS = "collections"
REFUNDS = "refunds"
AGEING = "ageing"
REPORTS = (COLLECTIONS, REFUNDS, AGEING)

DAY = "day"
MONTH = "month"
PER = (DAY, MONTH)

SERVICE = "service"
DEPARTMENT = "department"
CHANNEL = "channel"
PROVIDER = "provider"
#: what a report of money moved (collections, refunds) can be broken down by
BY = (SERVICE, DEPARTMENT, CHANNEL, PROVIDER)
#: what the ageing of receivables can be broken down by (a bill not yet paid has no channel)
AGEING_BY = (SERVICE, DEPARTMENT)

NOT_DUE = "not_due"
OVERDUE_1_30 = "1-30"
OVERDUE_31_90 = "31-90"
OVERDUE_OVER_90 = "90+"
AGE_BANDS = (NOT_DUE, OVERDUE_1_30, OVERDUE_31_90, OVERDUE_OVER_90)
AGE_LABELS = {
    NOT_DUE: _("Not yet due"),
    OVERDUE_1_30: _("1–30 days overdue"),
    OVERDUE_31_90: _("31–90 days overdue"),
    OVERDUE_OVER_90: _("More than 90 days overdue"),
}

#: the longest period a report covers: a year (a leap year's too), one bar a day at most
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """Calendar days ``first`` to ``last``, both included, in the portal's time zone."""

    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def period(first: dt.date, last: dt.date) -> Period:
    """The period a clerk asked for, or a :class:`Refusal` saying what is wrong with it."""
    if last < first:
        raise Refusal(MALFORMED, _("The period must end on or after the day it starts."))
    if (last - first).days + 1 > MAX_DAYS:
        raise Refusal(MALFORMED, _("Choose a period of at most 366 days."))
    return Period(first, last)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _midnight(day: dt.date, timezone: ZoneInfo) -> dt.datetime:
    """When ``day`` begins in ``timezone``, as a UTC instant."""
    return dt.datetime.combine(day, dt.time(), timezone).astimezone(dt.UTC)


def buckets(
    span: Period, per: str, timezone: ZoneInfo
) -> list[tuple[dt.date, dt.datetime, dt.datetime]]:
    """The days or months of ``span`` (a month cut to the period's ends): each as the day it
    is known by (a month by its first day) and the UTC instants it starts and ends."""
    out = []
    day = span.first
    end = span.last + dt.timedelta(days=1)
    while day < end:
        following = day + dt.timedelta(days=1) if per == DAY else min(_next_month(day), end)
        label = day if per == DAY else month_start(day)
        out.append((label, _midnight(day, timezone), _midnight(following, timezone)))
        day = following
    return out


class payment_channel(FunctionElement):
    """How a payment was paid, without the card's last digits: the provider's method
    (``Visa •••• 4242``) up to its mask, so one card brand or scheme is one channel."""

    type = String()
    inherit_cache = True


MASK = "•"


@compiles(payment_channel)
def _channel_postgresql(element, compiler, **kw):
    method = compiler.process(list(element.clauses)[0], **kw)
    return (
        f"CASE WHEN strpos({method}, '{MASK}') > 0 "
        f"THEN rtrim(substr({method}, 1, strpos({method}, '{MASK}') - 1)) ELSE {method} END"
    )


@compiles(payment_channel, "sqlite")
def _channel_sqlite(element, compiler, **kw):
    method = compiler.process(list(element.clauses)[0], **kw)
    return (
        f"CASE WHEN instr({method}, '{MASK}') > 0 "
        f"THEN rtrim(substr({method}, 1, instr({method}, '{MASK}') - 1)) ELSE {method} END"
    )


@dataclass(frozen=True)
class Row:
    """One figure of a report: ``bucket`` is a day, a month's first day or an age band."""

    bucket: dt.date | str
    key: str
    amount: Money
    count: int


@dataclass
class Report:
    """A report's figures, in the order they are shown, with its totals worked out from them
    (each a sum of the SQL sums, so every view of the report shows the same totals)."""

    kind: str
    by: str
    per: str | None
    rows: list[Row]
    buckets: list[dt.date | str]
    span: Period | None = None
    as_of: dt.date | None = None
    keys: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, Money]:
        """The report's total per currency."""
        sums: dict[str, int] = defaultdict(int)
        for row in self.rows:
            sums[row.amount.currency] += row.amount.minor
        return {currency: Money(minor, currency) for currency, minor in sorted(sums.items())}

    def by_bucket(self, currency: str) -> list[tuple[dt.date | str, Money]]:
        """Each day, month or age band with its total in ``currency``, empty ones included."""
        sums: dict[dt.date | str, int] = defaultdict(int)
        for row in self.rows:
            if row.amount.currency == currency:
                sums[row.bucket] += row.amount.minor
        return [(bucket, Money(sums[bucket], currency)) for bucket in self.buckets]

    def by_key(self, currency: str) -> list[tuple[str, Money]]:
        """Each service, department, channel or provider with its total in ``currency``."""
        sums: dict[str, int] = defaultdict(int)
        for row in self.rows:
            if row.amount.currency == currency:
                sums[row.key] += row.amount.minor
        return sorted(
            ((key, Money(minor, currency)) for key, minor in sums.items()),
            key=lambda item: (-item[1].minor, item[0]),
        )


def _key_column(by: str):
    """The column a report is broken down by; an empty channel is one not reported."""
    if by == SERVICE:
        return Service.name
    if by == DEPARTMENT:
        return Department.name
    if by == CHANNEL:
        return func.coalesce(payment_channel(Payment.method), "")
    return Payment.provider


def _posted_as(prefix: str, column, suffix: str):
    """The ``idempotency`` of the ledger transaction that posted the row ``column`` is the id
    of (``payment:<id>:settled``, ``refund:<id>:settled``)."""
    return literal(prefix) + cast(column, String) + literal(suffix)


def _bucket_table(spans):
    """The days or months as a table (index, starts, ends) for the query to join on."""
    timestamp = JournalTransaction.__table__.c.created_at.type
    return union_all(
        *(
            select(
                literal(index).label("bucket"),
                bindparam(f"starts_{index}", starts, type_=timestamp).label("starts"),
                bindparam(f"ends_{index}", ends, type_=timestamp).label("ends"),
            )
            for index, (_label, starts, ends) in enumerate(spans)
        )
    ).subquery("buckets")


def _scoped(query, departments: frozenset[int] | None):
    return query if departments is None else query.where(Service.department_id.in_(departments))


def money_moved(
    dbsession,
    kind: str,
    span: Period,
    per: str,
    by: str,
    timezone: ZoneInfo,
    departments: frozenset[int] | None,
) -> Report:
    """Collections or refunds of ``span`` per day or month and per ``by``, of the services of
    ``departments`` (``None``: every department's)."""
    spans = buckets(span, per, timezone)
    table = _bucket_table(spans)
    posted = JournalTransaction
    in_bucket = and_(posted.created_at >= table.c.starts, posted.created_at < table.c.ends)
    key = _key_column(by)
    if kind == COLLECTIONS:
        amount = func.sum(-JournalEntry.amount_minor)
        count = func.count(func.distinct(JournalEntry.transaction_id))
        query = (
            select(table.c.bucket, key, JournalEntry.currency, amount, count)
            .select_from(posted)
            .join(table, in_bucket)
            .join(JournalEntry, JournalEntry.transaction_id == posted.id)
            .join(LedgerAccount, JournalEntry.account_id == LedgerAccount.id)
            .join(Bill, JournalEntry.bill_id == Bill.id)
            .where(posted.kind == "payment_settled", LedgerAccount.kind == ledger.RECEIVABLE)
        )
        if by in (CHANNEL, PROVIDER):
            query = query.join(
                Payment, posted.idempotency == _posted_as("payment:", Payment.id, ":settled")
            )
        currency = JournalEntry.currency
    else:
        amount = func.sum(RefundLine.amount_minor)
        count = func.count(func.distinct(Refund.id))
        query = (
            select(table.c.bucket, key, Refund.currency, amount, count)
            .select_from(posted)
            .join(table, in_bucket)
            .join(Refund, posted.idempotency == _posted_as("refund:", Refund.id, ":settled"))
            .join(RefundLine, RefundLine.refund_id == Refund.id)
            .join(Bill, RefundLine.bill_id == Bill.id)
            .where(posted.kind == "refund", Refund.status == state.REFUND_SUCCEEDED)
        )
        if by in (CHANNEL, PROVIDER):
            query = query.join(Payment, Refund.payment_id == Payment.id)
        currency = Refund.currency
    query = query.join(Service, Bill.service_id == Service.id)
    if by == DEPARTMENT:
        query = query.join(Department, Service.department_id == Department.id)
    query = _scoped(
        query.where(posted.created_at >= spans[0][1], posted.created_at < spans[-1][2]),
        departments,
    ).group_by(table.c.bucket, key, currency)
    labels = [label for label, _starts, _ends in spans]
    rows = [
        Row(labels[index], name or "", Money(int(total), code), int(number))
        for index, name, code, total, number in dbsession.execute(query)
    ]
    rows.sort(key=lambda row: (row.bucket, row.amount.currency, row.key))
    return Report(kind, by, per, rows, list(labels), span=span, keys=_keys(rows))


def ageing(
    dbsession,
    as_of: dt.date,
    by: str,
    timezone: ZoneInfo,
    departments: frozenset[int] | None,
) -> Report:
    """What payers owed at the end of ``as_of`` on bills of ``departments``' services, by how
    long past its due date each bill was then. A bill paid beyond its total (owed less than
    nothing) is a credit of the payer's, not a receivable, and is left out."""
    end = _midnight(as_of + dt.timedelta(days=1), timezone)
    owed = (
        select(JournalEntry.bill_id, func.sum(JournalEntry.amount_minor).label("owed"))
        .join(LedgerAccount, JournalEntry.account_id == LedgerAccount.id)
        .join(JournalTransaction, JournalEntry.transaction_id == JournalTransaction.id)
        .where(
            LedgerAccount.kind == ledger.RECEIVABLE,
            JournalEntry.bill_id.is_not(None),
            JournalTransaction.created_at < end,
        )
        .group_by(JournalEntry.bill_id)
        .having(func.sum(JournalEntry.amount_minor) > 0)
        .subquery("owed")
    )
    band = case(
        (Bill.due_date >= as_of, NOT_DUE),
        (Bill.due_date >= as_of - dt.timedelta(days=30), OVERDUE_1_30),
        (Bill.due_date >= as_of - dt.timedelta(days=90), OVERDUE_31_90),
        else_=OVERDUE_OVER_90,
    )
    key = _key_column(by)
    query = (
        select(band, key, Bill.currency, func.sum(owed.c.owed), func.count())
        .select_from(owed)
        .join(Bill, Bill.id == owed.c.bill_id)
        .join(Service, Bill.service_id == Service.id)
    )
    if by == DEPARTMENT:
        query = query.join(Department, Service.department_id == Department.id)
    query = _scoped(query, departments).group_by(band, key, Bill.currency)
    order = {code: index for index, code in enumerate(AGE_BANDS)}
    rows = [
        Row(code, name, Money(int(total), currency), int(number))
        for code, name, currency, total, number in dbsession.execute(query)
    ]
    rows.sort(key=lambda row: (order[str(row.bucket)], row.amount.currency, row.key))
    return Report(AGEING, by, None, rows, list(AGE_BANDS), as_of=as_of, keys=_keys(rows))


def _keys(rows: list[Row]) -> list[str]:
    return sorted({row.key for row in rows})
