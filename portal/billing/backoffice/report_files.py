"""A report as a file to take away: CSV for other programs, XLSX for a spreadsheet.

Both hold the same rows as the page. In the XLSX file amounts are numbers with the currency
as their number format and days are dates, so a clerk can sum and sort them; its last rows are
the totals per currency. A text cell that a spreadsheet would run as a formula (a service
named ``=...``) is written with a leading apostrophe in the CSV file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from babel.numbers import get_currency_precision
from openpyxl import Workbook
from openpyxl.styles import Font

from portal.billing.reports import AGEING, MONTH, Report
from portal.money import Money

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: what a spreadsheet reads as the start of a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Columns:
    """The translated column headings of a report's file."""

    bucket: str
    key: str
    currency: str
    amount: str
    count: str
    total: str


def _cell_text(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


def _bucket_text(report: Report, bucket) -> str:
    if isinstance(bucket, dt.date):
        return bucket.strftime("%Y-%m") if report.per == MONTH else bucket.isoformat()
    return str(bucket)


def as_csv(report: Report, columns: Columns, band_labels: dict[str, str]) -> bytes:
    """One row a figure: the day (YYYY-MM-DD), month (YYYY-MM) or age band, the breakdown,
    the currency, the amount in major units (``12.50``) and how many payments, refunds or
    bills it sums."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([columns.bucket, columns.key, columns.currency, columns.amount, columns.count])
    for row in report.rows:
        bucket = _bucket_text(report, row.bucket)
        writer.writerow(
            [
                band_labels.get(bucket, bucket),
                _cell_text(row.key),
                row.amount.currency,
                str(row.amount.decimal()),
                row.count,
            ]
        )
    return out.getvalue().encode("utf-8")


def currency_format(currency: str) -> str:
    """An Excel number format showing an amount with its currency's decimals and code."""
    decimals = get_currency_precision(currency)
    return "#,##0" + ("." + "0" * decimals if decimals else "") + f' "{currency}"'


def as_xlsx(report: Report, columns: Columns, band_labels: dict[str, str], title: str) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Report"
    workbook.properties.title = title
    sheet.append([columns.bucket, columns.key, columns.currency, columns.amount, columns.count])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    date_format = "yyyy-mm" if report.per == MONTH else "yyyy-mm-dd"
    for row in report.rows:
        bucket = row.bucket
        sheet.append(
            [
                band_labels.get(str(bucket), str(bucket)) if report.kind == AGEING else bucket,
                row.key,
                row.amount.currency,
                row.amount.decimal(),
                row.count,
            ]
        )
        _money_cell(sheet.cell(sheet.max_row, 4), row.amount)
        if isinstance(bucket, dt.date):
            sheet.cell(sheet.max_row, 1).number_format = date_format
    # no count on a total: one payment of two services' bills is counted in each service's row
    for currency, total in report.totals().items():
        sheet.append([columns.total, "", currency, total.decimal(), None])
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
        _money_cell(sheet.cell(sheet.max_row, 4), total)
    for letter, width in zip("ABCDE", (14, 40, 10, 16, 12), strict=True):
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _money_cell(cell, amount: Money) -> None:
    cell.number_format = currency_format(amount.currency)
