"""The standstill ends at the end of the N-th day after the award's local date, in the
portal's timezone: across a change of the clocks the period keeps its local midnight."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from portal.procurement.award import DEFAULT_STANDSTILL_DAYS, standstill_days, standstill_end

LJUBLJANA = ZoneInfo("Europe/Ljubljana")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_ten_days_end_at_local_midnight_in_winter():
    # 1 March 2027 16:00 local (15:00 UTC): the period runs to the end of 11 March
    end = standstill_end(at("2027-03-01T15:00:00+00:00"), 10, LJUBLJANA)
    assert end == at("2027-03-11T23:00:00+00:00")
    assert end.astimezone(LJUBLJANA) == at("2027-03-12T00:00:00+01:00")


def test_across_the_spring_change_the_end_is_still_local_midnight():
    # clocks go forward on 28 March 2027: an award on 20 March ends at 00:00 on 31 March,
    # which is 22:00 UTC (summer time), not 23:00
    end = standstill_end(at("2027-03-20T10:00:00+00:00"), 10, LJUBLJANA)
    assert end == at("2027-03-30T22:00:00+00:00")
    assert end.astimezone(LJUBLJANA).time() == dt.time(0)
    assert end - at("2027-03-20T10:00:00+00:00") == dt.timedelta(days=10, hours=12)


def test_across_the_autumn_change_the_end_is_still_local_midnight():
    # clocks go back on 31 October 2027
    end = standstill_end(at("2027-10-25T09:00:00+00:00"), 10, LJUBLJANA)
    assert end == at("2027-11-04T23:00:00+00:00")
    assert end.astimezone(LJUBLJANA) == at("2027-11-05T00:00:00+01:00")


def test_the_local_date_counts_not_the_utc_date():
    # 00:30 local on 2 March is still 1 March in UTC
    end = standstill_end(at("2027-03-01T23:30:00+00:00"), 10, LJUBLJANA)
    assert end.astimezone(LJUBLJANA) == at("2027-03-13T00:00:00+01:00")


def test_a_midnight_the_clocks_skip_is_read_as_the_start_of_the_day():
    # Santiago's clocks went forward at midnight on 8 September 2024: that day began at 01:00
    santiago = ZoneInfo("America/Santiago")
    end = standstill_end(at("2024-08-28T15:00:00+00:00"), 10, santiago)
    assert end == at("2024-09-08T04:00:00+00:00")
    assert end.astimezone(santiago) == at("2024-09-08T01:00:00-03:00")


def test_the_number_of_days_is_a_setting():
    assert standstill_days({}) == DEFAULT_STANDSTILL_DAYS == 10
    assert standstill_days({"procurement.standstill_days": "14"}) == 14
    for bad in ("0", "-3", "ten"):
        with pytest.raises(ValueError):
            standstill_days({"procurement.standstill_days": bad})
