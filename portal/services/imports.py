"""CSV imports: the tax office's property tax assessments and utility companies' monthly bills.

Every row is checked before anything is written; a file with any bad row imports nothing and
gets a report naming each bad row (by its line in the file), the column and why. Messages
never repeat a national identifier.

Assessments
(``national_id,assessment_number,property,year,total,currency,instalments,due_dates``): each
becomes one bill per instalment, numbered ``<assessment>-<n>``; ``due_dates`` lists one date
per instalment separated by ``;``. The total is split into equal instalments in minor units;
the cents that do not divide evenly go to the first instalment. A property is assessed once a
year (:mod:`portal.services.assessments`): a row for a property and year already assessed is
refused, unless it names the assessment it corrects in the optional column ``corrects``: then
it takes that one's place and that one's unpaid bills are cancelled.

Utility bills (``customer_number,national_id,bill_number,description,due_date,amount,currency``):
each row is one bill on the customer's account; ``national_id`` opens the account the first
time and may be left empty afterwards. A bill number the company used before is refused. The
description may be given in other languages too, in optional columns ``description_sl``,
``description_pl``, ``description_fr``, ``description_zh_hans`` (:mod:`portal.localized`);
a payer reading another language reads ``description``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass
from functools import partial

from pyramid.i18n import TranslationString
from sqlalchemy import select

from portal.audit import record
from portal.billing import BillLineInput, issue_bill
from portal.billing.models import Bill
from portal.catalogue.interfaces import TAX, UTILITY
from portal.i18n import _
from portal.identity.models import User
from portal.localized import (
    LANGUAGES,
    MAX_TEXT,
    SOURCE_LANGUAGE,
    in_every_language,
    localized,
    message_in,
)
from portal.money import CURRENCY_CODES, Money, MoneyError
from portal.refusals import INVALID, FieldError, Refusal
from portal.services.assessments import (
    add_instalment,
    conflict,
    record_assessment,
)
from portal.services.utilities import record_utility_bill, utility_account

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
MAX_INSTALMENTS = 12
#: the largest amount of one bill (minor units), the API's bound too
MAX_AMOUNT = 10**12

ASSESSMENT_COLUMNS = (
    "national_id",
    "assessment_number",
    "property",
    "year",
    "total",
    "currency",
    "instalments",
    "due_dates",
)
UTILITY_COLUMNS = (
    "customer_number",
    "national_id",
    "bill_number",
    "description",
    "due_date",
    "amount",
    "currency",
)
#: a utility bill's description in another language, by column: ``description_sl``...
DESCRIPTION_COLUMNS = {
    f"description_{language.casefold()}": language
    for language in LANGUAGES
    if language != SOURCE_LANGUAGE
}
#: columns a file may leave out
OPTIONAL_COLUMNS = {TAX: ("corrects",), UTILITY: tuple(DESCRIPTION_COLUMNS)}
IMPORTABLE_KINDS = (TAX, UTILITY)

_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _refused(errors: list[FieldError]) -> Refusal:
    """The file imports nothing; ``errors`` is the validation report, a problem per line
    (1 is the header; 0 the file as a whole) and column."""
    return Refusal(
        INVALID, _("Nothing was imported. Correct the file and upload it again."), errors=errors
    )


def columns_for(kind: str) -> tuple[str, ...]:
    return ASSESSMENT_COLUMNS if kind == TAX else UTILITY_COLUMNS


def optional_columns_for(kind: str) -> tuple[str, ...]:
    return OPTIONAL_COLUMNS.get(kind, ())


def read_rows(
    data: bytes, columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[tuple[int, dict[str, str]]]:
    """(line number, values by column) of each data row, an optional column left out read as
    empty; the file's own faults refuse it."""
    if len(data) > MAX_FILE_BYTES:
        raise _refused(
            [FieldError("", _("The file is larger than ${size} MB.", mapping={"size": 5}), 0)]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refused([FieldError("", _("Save the file as UTF-8 text (CSV)."), 0)]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise _refused([FieldError("", _("The file is empty."), 0)]) from None
    except csv.Error:
        raise _refused([FieldError("", _("The header line is not valid CSV."), 1)]) from None
    missing = [name for name in columns if name not in header]
    unknown = [name for name in header if name not in columns and name not in optional]
    errors = [
        FieldError(name, _("The column ${column} is missing.", mapping={"column": name}), 1)
        for name in missing
    ] + [
        FieldError(
            name[:40], _("The column ${column} is not known.", mapping={"column": name[:40]}), 1
        )
        for name in unknown
    ]
    if errors:
        raise _refused(errors)
    rows = []
    try:
        for values in reader:
            line = reader.line_num
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(header):
                errors.append(
                    FieldError(
                        "",
                        _(
                            "The row has ${found} values; the header has ${expected}.",
                            mapping={"found": len(values), "expected": len(header)},
                        ),
                        line,
                    )
                )
                continue
            row = dict.fromkeys(optional, "")
            row.update((name, value.strip()) for name, value in zip(header, values, strict=True))
            rows.append((line, row))
            if len(rows) > MAX_ROWS:
                raise _refused(
                    [
                        FieldError(
                            "",
                            _("Split the file: at most ${rows} rows.", mapping={"rows": MAX_ROWS}),
                            0,
                        )
                    ]
                )
    except csv.Error:
        errors.append(FieldError("", _("This line is not valid CSV."), reader.line_num))
    if errors:
        raise _refused(errors)
    if not rows:
        raise _refused([FieldError("", _("The file has no rows to import."), 0)])
    return rows


class _Row:
    """Checks the values of one row, noting each problem against its column."""

    def __init__(self, line: int, values: dict[str, str], errors: list[FieldError]):
        self.line, self.values, self.errors = line, values, errors
        self.bad = False

    def error(self, column: str, message: TranslationString) -> None:
        self.errors.append(FieldError(column, message, self.line))
        self.bad = True

    def text(self, column: str, max_length: int, required: bool = True) -> str:
        value = self.values[column]
        if not value:
            if required:
                self.error(column, _("This value is required."))
        elif len(value) > max_length:
            self.error(
                column,
                _("At most ${length} characters.", mapping={"length": max_length}),
            )
        elif _CONTROL.search(value):
            self.error(column, _("Control characters are not allowed."))
        else:
            return value
        return ""

    def number(self, column: str) -> str:
        value = self.text(column, 40)
        if value and not _NUMBER.match(value):
            self.error(
                column, _("Use letters, digits and . _ / - only, starting with a letter or digit.")
            )
            return ""
        return value

    def date(self, column: str, value: str | None = None) -> dt.date | None:
        value = self.values[column] if value is None else value
        try:
            if re.match(r"^\d{4}-\d{2}-\d{2}$", value):
                return dt.date.fromisoformat(value)
        except ValueError:
            pass
        self.error(column, _("Write dates as YYYY-MM-DD."))
        return None

    def currency(self, column: str) -> str | None:
        value = self.values[column].upper()
        if value not in CURRENCY_CODES:
            self.error(
                column,
                _("Use one of ${codes}.", mapping={"codes": ", ".join(sorted(CURRENCY_CODES))}),
            )
            return None
        return value

    def amount(self, column: str, currency: str | None) -> Money | None:
        if currency is None:
            return None
        try:
            amount = Money.parse(self.values[column], currency)
        except MoneyError:
            self.error(column, _("Write the amount as a number such as 184.50."))
            return None
        if not 0 < amount.minor <= MAX_AMOUNT:
            self.error(column, _("The amount must be more than zero."))
            return None
        return amount

    def whole(self, column: str, low: int, high: int) -> int | None:
        value = self.values[column]
        if not re.match(r"^\d{1,6}$", value) or not low <= int(value) <= high:
            self.error(
                column,
                _("A whole number from ${low} to ${high}.", mapping={"low": low, "high": high}),
            )
            return None
        return int(value)

    def payer(self, column: str, dbsession, vault, required: bool = True) -> User | None:
        value = self.text(column, 64, required)
        if not value:
            return None
        user = dbsession.scalar(
            select(User)
            .where(User.national_id_hash == vault.lookup_hash(value))
            .order_by(User.id)
            .limit(1)
        )
        if user is None:
            self.error(column, _("No person with this national identifier is known to the portal."))
        return user


def _bill_exists(dbsession, service, number: str) -> bool:
    return (
        dbsession.scalar(
            select(Bill.id).where(Bill.service_id == service.id, Bill.number == number)
        )
        is not None
    )


def _numbers_taken(dbsession, service, number: str, count: int | None) -> list[str]:
    """Which of the numbers of ``count`` instalments of assessment ``number`` the service's
    bills hold already, in order (the first is checked before, see check_assessments)."""
    numbers = [f"{number}-{n}" for n in range(2, (count or 0) + 1)]
    if not numbers:
        return []
    taken = set(
        dbsession.scalars(
            select(Bill.number).where(Bill.service_id == service.id, Bill.number.in_(numbers))
        )
    )
    return [candidate for candidate in numbers if candidate in taken]


@dataclass(frozen=True)
class Assessment:
    line: int
    payer: User
    number: str
    property_ref: str
    year: int
    total: Money
    due_dates: tuple[dt.date, ...]
    #: the number of the assessment this one corrects, if any
    corrects: str = ""

    def instalments(self) -> list[Money]:
        """Equal instalments; the minor units that do not divide go to the first one."""
        count = len(self.due_dates)
        share, rest = divmod(self.total.minor, count)
        return [Money(share + (rest if i == 0 else 0), self.total.currency) for i in range(count)]


def check_assessments(dbsession, vault, service, rows) -> list[Assessment]:
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    #: (property, year) -> the line that assesses it
    assessed: dict[tuple[str, int], int] = {}
    found = []
    for line, values in rows:
        row_errors = len(errors)  # where this row's errors begin
        row = _Row(line, values, errors)
        payer = row.payer("national_id", dbsession, vault)
        number = row.number("assessment_number")
        property_ref = row.number("property")
        year = row.whole("year", 2000, 2100)
        corrects = row.number("corrects") if values["corrects"] else ""
        if number in seen:
            row.error(
                "assessment_number",
                _("The same assessment is on line ${line}.", mapping={"line": seen[number]}),
            )
        elif number and _bill_exists(dbsession, service, f"{number}-1"):
            row.error("assessment_number", _("This assessment was imported before."))
        elif (property_ref, year) in assessed:
            row.error(
                "property",
                _(
                    "The same property is assessed for the same year on line ${line}.",
                    mapping={"line": assessed[property_ref, year]},
                ),
            )
        elif number and property_ref and year is not None:
            refusal = conflict(dbsession, service, number, property_ref, year, corrects)
            if refusal is not None:
                row.error("corrects" if corrects else "property", refusal.message)
        # the first instalment's number is checked above; the others' once their count is read
        number_checked = bool(number) and not any(
            error.field == "assessment_number" for error in errors[row_errors:]
        )
        if number:
            seen.setdefault(number, line)
        if property_ref and year is not None:
            assessed.setdefault((property_ref, year), line)
        total = row.amount("total", row.currency("currency"))
        count = row.whole("instalments", 1, MAX_INSTALMENTS)
        # the instalments are bills numbered {number}-1, -2...: another bill of the service
        # may hold one of those numbers already (one sent through the API, say)
        taken = _numbers_taken(dbsession, service, number, count) if number_checked else []
        if taken:
            row.error(
                "assessment_number",
                _(
                    "Another bill of this service is numbered ${number}.",
                    mapping={"number": taken[0]},
                ),
            )
        parts = [part.strip() for part in values["due_dates"].split(";") if part.strip()]
        dates = [row.date("due_dates", part) for part in parts]
        if count is not None and len(parts) != count:
            row.error(
                "due_dates",
                _(
                    "Give one due date per instalment: ${count} dates separated by ;.",
                    mapping={"count": count},
                ),
            )
        elif None not in dates and any(a >= b for a, b in zip(dates, dates[1:], strict=False)):
            row.error("due_dates", _("The due dates must follow each other in order."))
        if total is not None and count is not None and total.minor < count:
            row.error("total", _("The total is too small to split into instalments."))
        if not row.bad:
            found.append(
                Assessment(line, payer, number, property_ref, year, total, tuple(dates), corrects)
            )
    if errors:
        raise _refused(errors)
    return found


def issue_assessment(dbsession, service, assessment: Assessment, now: dt.datetime) -> list[Bill]:
    """Record the assessment (refused if its property is assessed for the year already and
    it is no correction: a :class:`~portal.refusals.Refusal`) and issue
    its instalments."""
    recorded = record_assessment(
        dbsession,
        service,
        assessment.number,
        assessment.property_ref,
        assessment.year,
        assessment.corrects,
        now=now,
    )
    count = len(assessment.due_dates)

    def description_in(locale: str, mapping: dict) -> str:
        return message_in(
            locale,
            _(
                "${tax} ${year}, instalment ${n} of ${count}",
                mapping={**mapping, "tax": localized(service, "name", locale)},
            ),
        )

    bills = []
    for index, (amount, due) in enumerate(
        zip(assessment.instalments(), assessment.due_dates, strict=True), start=1
    ):
        mapping = {"year": assessment.year, "n": index, "count": count}
        description, translations = in_every_language(partial(description_in, mapping=mapping))
        bills.append(
            issue_bill(
                dbsession,
                service=service,
                number=f"{assessment.number}-{index}",
                description=description,
                description_translations=translations,
                due_date=due,
                lines=[
                    BillLineInput(
                        _(
                            "Assessment ${number}, instalment ${n} of ${count}",
                            mapping={**mapping, "number": assessment.number},
                        ),
                        amount,
                    )
                ],
                payer_user=assessment.payer,
            )
        )
        add_instalment(dbsession, recorded, bills[-1])
    return bills


@dataclass(frozen=True)
class UtilityBillRow:
    line: int
    customer_number: str
    payer: User
    number: str
    description: str
    due_date: dt.date
    amount: Money
    #: the description in other languages, by language
    descriptions: dict[str, str]


def check_utility_bills(dbsession, vault, service, rows) -> list[UtilityBillRow]:
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    #: customer number -> the account holder, from the database or an earlier line
    holders: dict[str, User] = {}
    found = []
    for line, values in rows:
        row = _Row(line, values, errors)
        customer = row.number("customer_number")
        holder = holders.get(customer)
        if customer and holder is None:
            account = utility_account(dbsession, service, customer)
            holder = account.payer_user if account is not None else None
        payer = row.payer("national_id", dbsession, vault, required=holder is None)
        if holder is not None:
            if payer is not None and payer.id != holder.id:
                row.error("national_id", _("This customer number belongs to another person."))
            payer = holder
        elif customer and payer is not None:
            holders[customer] = payer
        number = row.number("bill_number")
        if number in seen:
            row.error(
                "bill_number",
                _("The same bill number is on line ${line}.", mapping={"line": seen[number]}),
            )
        elif number and _bill_exists(dbsession, service, number):
            row.error("bill_number", _("This bill number was used before."))
        if number:
            seen.setdefault(number, line)
        description = row.text("description", MAX_TEXT)
        descriptions = {
            language: row.text(column, MAX_TEXT, required=False)
            for column, language in DESCRIPTION_COLUMNS.items()
        }
        due = row.date("due_date")
        amount = row.amount("amount", row.currency("currency"))
        if not row.bad:
            found.append(
                UtilityBillRow(
                    line,
                    customer,
                    payer,
                    number,
                    description,
                    due,
                    amount,
                    {language: text for language, text in descriptions.items() if text},
                )
            )
    if errors:
        raise _refused(errors)
    return found


def issue_utility_bill(dbsession, service, row: UtilityBillRow) -> Bill:
    bill = issue_bill(
        dbsession,
        service=service,
        number=row.number,
        description=row.description,
        description_translations=row.descriptions,
        due_date=row.due_date,
        lines=[BillLineInput(row.description, row.amount, row.descriptions)],
        payer_user=row.payer,
    )
    record_utility_bill(dbsession, bill, row.customer_number)
    return bill


@dataclass(frozen=True)
class ImportResult:
    rows: int
    bills: int


def import_bills(
    dbsession,
    vault,
    service,
    kind: str,
    data: bytes,
    now: dt.datetime,
    *,
    actor_id: int | None = None,
) -> ImportResult:
    """Check the whole file, then issue its bills; a :class:`Refusal` writes nothing (a
    refusal found while issuing is raised before the transaction commits, and aborts it).
    ``actor_id``: the clerk importing (None from the command line); the import is audited
    with the file's SHA-256, so the file a bill came from can be told later."""
    if kind not in IMPORTABLE_KINDS:
        raise _refused([FieldError("", _("This service does not take imported bills."), 0)])
    rows = read_rows(data, columns_for(kind), OPTIONAL_COLUMNS[kind])
    if kind == TAX:
        checked = check_assessments(dbsession, vault, service, rows)
        bills = []
        for item in checked:
            try:
                bills += issue_assessment(dbsession, service, item, now)
            except Refusal as refused:  # assessed by another import meanwhile
                raise _refused([FieldError("property", refused.message, item.line)]) from None
    else:
        checked = check_utility_bills(dbsession, vault, service, rows)
        bills = [issue_utility_bill(dbsession, service, item) for item in checked]
    dbsession.flush()
    record(
        dbsession,
        "bills.imported",
        actor_id=actor_id,
        object=("service", service.code),
        details={
            "kind": kind,
            "rows": len(checked),
            "bills": len(bills),
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )
    return ImportResult(len(checked), len(bills))
