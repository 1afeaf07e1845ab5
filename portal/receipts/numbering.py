"""Gap-free receipt numbers: one series per kind of document, restarting each fiscal year.

The counter row is updated inside the transaction that issues the receipt and stays locked
until it commits; concurrent payments queue for it. A rolled-back transaction takes its
number back with it, so the numbers that exist are always 1..n without gaps or repeats.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.receipts.models import ReceiptCounter


class ReceiptNumberer:
    def __init__(self, dbsession):
        self.dbsession = dbsession

    def _locked_counter(self, series: str, year: int) -> ReceiptCounter | None:
        return self.dbsession.scalars(
            select(ReceiptCounter)
            .where(ReceiptCounter.series == series, ReceiptCounter.fiscal_year == year)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()

    def next(self, series: str, year: int) -> int:
        counter = self._locked_counter(series, year)
        if counter is None:
            try:
                with self.dbsession.begin_nested():
                    self.dbsession.add(
                        ReceiptCounter(series=series, fiscal_year=year, last_number=0)
                    )
            except IntegrityError:  # another transaction opened this year's series first
                pass
            counter = self._locked_counter(series, year)
        counter.last_number += 1
        self.dbsession.flush()
        return counter.last_number
