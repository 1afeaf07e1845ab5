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

from sqlalchemy import bindparam, update

from portal.db import Prebuilt, insert_unless_present, run_write, table_of
from portal.documents.models import DocumentCounter

_COUNTERS = table_of(DocumentCounter)
_TAKE = Prebuilt(
    lambda dialect: (
        update(_COUNTERS)
        .where(
            _COUNTERS.c.series == bindparam("counter_series"),
            _COUNTERS.c.fiscal_year == bindparam("year"),
        )
        .values(last_number=_COUNTERS.c.last_number + 1)
        .returning(_COUNTERS.c.last_number)
    )
)


def fiscal_year(moment: dt.datetime, timezone: ZoneInfo) -> int:
    return moment.astimezone(timezone).year


class DocumentNumberer:
    def __init__(self, dbsession):
        self.dbsession = dbsession

    def _take(self, series: str, year: int) -> int | None:
        """The series' next number, counted and locked in one statement (None if the series
        has no counter for ``year`` yet)."""
        return run_write(
            self.dbsession, _TAKE(self.dbsession), {"counter_series": series, "year": year}
        ).scalar()

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
