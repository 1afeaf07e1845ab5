"""Gap-free document numbers: one series per kind of document, restarting each fiscal year.

The fiscal year is the calendar year in the portal's timezone (``portal.timezone``): a
document issued at 00:30 on 1 January local time belongs to the new year although it is
still 31 December in UTC.

The counter row is updated inside the transaction that issues the document and stays locked
until it commits; concurrent issuers queue for it. A rolled-back transaction takes its
number back with it, so the numbers that exist are always 1..n without gaps or repeats.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import update

from portal.db import insert_unless_present
from portal.documents.models import DocumentCounter


def fiscal_year(moment: dt.datetime, timezone: ZoneInfo) -> int:
    return moment.astimezone(timezone).year


class DocumentNumberer:
    def __init__(self, dbsession):
        self.dbsession = dbsession

    def _take(self, series: str, year: int) -> int | None:
        """The series' next number, counted and locked in one statement (None if the series
        has no counter for ``year`` yet)."""
        return self.dbsession.scalar(
            update(DocumentCounter)
            .where(DocumentCounter.series == series, DocumentCounter.fiscal_year == year)
            .values(last_number=DocumentCounter.last_number + 1)
            .returning(DocumentCounter.last_number)
        )

    def next(self, series: str, year: int) -> int:
        number = self._take(series, year)
        if number is None:  # the first of the year: opened here or by another transaction
            self.dbsession.execute(
                insert_unless_present(
                    self.dbsession, DocumentCounter, "series", "fiscal_year"
                ).values(series=series, fiscal_year=year, last_number=0)
            )
            number = self._take(series, year)
            if number is None:
                raise RuntimeError(f"no counter for series {series} in {year} after opening it")
        return number
