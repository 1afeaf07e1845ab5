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

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.documents.models import DocumentCounter


def fiscal_year(moment: dt.datetime, timezone: ZoneInfo) -> int:
    return moment.astimezone(timezone).year


class DocumentNumberer:
    def __init__(self, dbsession):
        self.dbsession = dbsession

    def _locked_counter(self, series: str, year: int) -> DocumentCounter | None:
        return self.dbsession.scalars(
            select(DocumentCounter)
            .where(DocumentCounter.series == series, DocumentCounter.fiscal_year == year)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()

    def next(self, series: str, year: int) -> int:
        counter = self._locked_counter(series, year)
        if counter is None:
            try:
                with self.dbsession.begin_nested():
                    self.dbsession.add(
                        DocumentCounter(series=series, fiscal_year=year, last_number=0)
                    )
            except IntegrityError:  # another transaction opened this year's series first
                pass
            counter = self._locked_counter(series, year)
        counter.last_number += 1
        self.dbsession.flush()
        return counter.last_number
