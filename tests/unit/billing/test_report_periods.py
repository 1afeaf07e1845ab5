"""A report's days and months run in the portal's time zone, summer time included, and a
period the clerk chooses is refused when it ends before it starts or is longer than a year."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from portal.billing.reports import DAY, MONTH, Period, buckets, period
from portal.refusals import Refusal

LJUBLJANA = ZoneInfo("Europe/Ljubljana")


def test_a_day_runs_from_local_midnight_to_local_midnight_across_summer_time():
    spring, autumn = dt.date(2026, 3, 29), dt.date(2026, 10, 25)
    ((label, starts, ends),) = buckets(Period(spring, spring), DAY, LJUBLJANA)
    assert label == spring
    assert starts == dt.datetime(2026, 3, 28, 23, 0, tzinfo=dt.UTC)
    assert ends - starts == dt.timedelta(hours=23)
    ((_label, starts, ends),) = buckets(Period(autumn, autumn), DAY, LJUBLJANA)
    assert ends - starts == dt.timedelta(hours=25)


def test_months_are_cut_to_the_period_and_known_by_their_first_day():
    spans = buckets(Period(dt.date(2026, 1, 15), dt.date(2026, 3, 10)), MONTH, LJUBLJANA)
    assert [label for label, _starts, _ends in spans] == [
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 1),
    ]
    assert spans[0][1] == dt.datetime(2026, 1, 14, 23, 0, tzinfo=dt.UTC)
    assert spans[1][1] == dt.datetime(2026, 1, 31, 23, 0, tzinfo=dt.UTC)
    assert spans[-1][2] == dt.datetime(2026, 3, 10, 23, 0, tzinfo=dt.UTC)
    # one after the other, nothing left between them
    assert all(spans[i][2] == spans[i + 1][1] for i in range(len(spans) - 1))


def test_a_year_is_the_longest_period():
    assert period(dt.date(2028, 1, 1), dt.date(2028, 12, 31)).days == 366
    with pytest.raises(Refusal) as refused:
        period(dt.date(2026, 1, 1), dt.date(2027, 1, 2))
    assert refused.value.message == "Choose a period of at most 366 days."
    with pytest.raises(Refusal) as refused:
        period(dt.date(2026, 1, 2), dt.date(2026, 1, 1))
    assert refused.value.message == "The period must end on or after the day it starts."
