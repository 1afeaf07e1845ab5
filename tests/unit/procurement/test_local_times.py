"""Local times of day across Europe/Ljubljana's daylight-saving changes in 2027: one instant,
or a refusal; a deadline moved on keeps its local hour."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from webob.multidict import MultiDict

from portal.procurement.local_times import (
    as_values,
    local_instant,
    same_time_of_day_after,
    typed_instant,
)
from portal.refusals import Refusal

LJUBLJANA = ZoneInfo("Europe/Ljubljana")


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("day", "time", "instant"),
    [
        (dt.date(2027, 3, 27), dt.time(10), utc(2027, 3, 27, 9)),
        (dt.date(2027, 3, 28), dt.time(10), utc(2027, 3, 28, 8)),
        (dt.date(2027, 3, 28), dt.time(1, 59), utc(2027, 3, 28, 0, 59)),
        (dt.date(2027, 3, 28), dt.time(3), utc(2027, 3, 28, 1)),
        (dt.date(2027, 10, 31), dt.time(10), utc(2027, 10, 31, 9)),
        (dt.date(2027, 10, 31), dt.time(3), utc(2027, 10, 31, 2)),
    ],
)
def test_a_local_time_is_one_instant(day, time, instant):
    assert local_instant(day, time, LJUBLJANA, "bids_until") == instant


@pytest.mark.parametrize(
    ("day", "time", "words"),
    [
        (dt.date(2027, 3, 28), dt.time(2), "does not exist"),
        (dt.date(2027, 3, 28), dt.time(2, 59), "does not exist"),
        (dt.date(2027, 10, 31), dt.time(2), "happens twice"),
        (dt.date(2027, 10, 31), dt.time(2, 30), "happens twice"),
    ],
)
def test_a_time_in_the_changing_hour_is_refused_for_its_field(day, time, words):
    with pytest.raises(Refusal) as refused:
        local_instant(day, time, LJUBLJANA, "bids_until")
    (error,) = refused.value.errors
    assert error.field == "bids_until" and words in error.message.interpolate()


def test_typed_values_round_trip():
    instant = utc(2027, 10, 31, 9)
    values = MultiDict(as_values("bids_until", instant, LJUBLJANA))
    assert values["bids_until-time"] == "10:00"
    assert typed_instant(values, "bids_until", LJUBLJANA) == instant
    assert typed_instant(MultiDict(), "bids_until", LJUBLJANA) is None


def test_a_deadline_moved_across_the_change_keeps_its_local_hour():
    deadline = utc(2027, 3, 26, 9)  # Friday 10:00 CET
    moved = same_time_of_day_after(deadline, utc(2027, 3, 30, 7), LJUBLJANA)
    assert moved == utc(2027, 3, 30, 8)  # Tuesday 10:00 CEST
    assert moved.astimezone(LJUBLJANA).hour == 10
    # a day on which the hour does not exist is skipped
    early = utc(2027, 3, 27, 1, 30)  # Saturday 02:30 CET
    assert same_time_of_day_after(early, utc(2027, 3, 27, 23), LJUBLJANA) == utc(2027, 3, 29, 0, 30)
