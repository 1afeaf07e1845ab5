"""Due times counted in working hours of the portal's time zone: weekends, evenings, public
holidays and the days the clocks change."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from portal.cases.working_time import (
    WorkingCalendar,
    calendar_from_settings,
    parse_duration,
    parse_hours,
    parse_weekdays,
)
from portal.settings import SettingsError

LJUBLJANA = ZoneInfo("Europe/Ljubljana")
HOURS = dt.timedelta(hours=1)


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LJUBLJANA)


@pytest.fixture
def calendar():
    """Monday to Friday, 8:00 to 16:00 in Ljubljana, Slovenia's public holidays off."""
    return calendar_from_settings({"portal.timezone": "Europe/Ljubljana", "cases.holidays": "SI"})


def test_time_inside_one_working_day_is_added_as_it_is(calendar):
    # Wednesday 9 December 2026, 9:00
    assert calendar.add(local(2026, 12, 9, 9), 3 * HOURS) == local(2026, 12, 9, 12)


def test_what_is_left_at_closing_time_goes_on_the_next_morning(calendar):
    assert calendar.add(local(2026, 12, 9, 14), 4 * HOURS) == local(2026, 12, 10, 10)


def test_a_case_opened_in_the_evening_starts_counting_the_next_morning(calendar):
    assert calendar.add(local(2026, 12, 9, 21, 30), 2 * HOURS) == local(2026, 12, 10, 10)


def test_a_case_opened_before_opening_time_starts_counting_at_opening(calendar):
    assert calendar.add(local(2026, 12, 9, 6), 1 * HOURS) == local(2026, 12, 9, 9)


def test_weekends_are_skipped(calendar):
    # Friday 11 December 2026, 15:00: one hour on Friday, the rest on Monday
    assert calendar.add(local(2026, 12, 11, 15), 3 * HOURS) == local(2026, 12, 14, 10)
    # opened on Saturday: counted from Monday's opening
    assert calendar.add(local(2026, 12, 12, 11), 16 * HOURS) == local(2026, 12, 15, 16)


def test_public_holidays_are_not_working_days(calendar):
    # Thursday 24 December, 12:00; 25 (Christmas) and 26 (Independence Day, a Saturday
    # anyway) off, then the weekend: the last four hours are Monday 28's
    assert calendar.add(local(2026, 12, 24, 12), 8 * HOURS) == local(2026, 12, 28, 12)


def test_a_portal_without_holidays_works_on_christmas():
    plain = calendar_from_settings({"portal.timezone": "Europe/Ljubljana"})
    assert plain.add(local(2026, 12, 24, 12), 8 * HOURS) == local(2026, 12, 25, 12)


def test_extra_days_off_of_the_portal_are_skipped():
    closed = calendar_from_settings(
        {"portal.timezone": "Europe/Ljubljana", "cases.extra_holidays": "2026-12-10"}
    )
    assert closed.add(local(2026, 12, 9, 15), 2 * HOURS) == local(2026, 12, 11, 9)


def test_the_spring_change_of_the_clocks_does_not_shorten_the_day(calendar):
    # Summer time began at 2:00 on Sunday 29 March 2026: Friday 15:00 + 3 h is Monday 10:00
    # local, which is 8:00 UTC (it was 14:00 UTC on Friday)
    due = calendar.add(local(2026, 3, 27, 15), 3 * HOURS)
    assert due == local(2026, 3, 30, 10)
    assert due.utcoffset() == dt.timedelta(0) and due.hour == 8


def test_the_autumn_change_of_the_clocks_does_not_lengthen_the_day():
    # Winter time began at 3:00 on Sunday 25 October 2026; a seven-day calendar works
    # through that Sunday, whose 8:00-16:00 is still eight hours
    every_day = WorkingCalendar(LJUBLJANA, weekdays=frozenset(range(7)))
    assert every_day.add(local(2026, 10, 24, 8), 16 * HOURS) == local(2026, 10, 25, 16)
    assert every_day.between(local(2026, 10, 25, 0), local(2026, 10, 26, 0)) == 8 * HOURS


def test_the_due_time_is_in_utc(calendar):
    due = calendar.add(local(2026, 12, 9, 9), HOURS)
    assert due.tzinfo is dt.UTC and due == dt.datetime(2026, 12, 9, 9, tzinfo=dt.UTC)


def test_working_time_between_two_moments_counts_only_working_hours(calendar):
    assert calendar.between(local(2026, 12, 11, 15), local(2026, 12, 14, 10)) == 3 * HOURS
    assert calendar.between(local(2026, 12, 14, 10), local(2026, 12, 11, 15)) == dt.timedelta()


def test_an_unaware_start_is_refused(calendar):
    with pytest.raises(ValueError):
        calendar.add(dt.datetime(2026, 12, 9, 9), HOURS)


def test_a_calendar_without_working_days_is_refused_rather_than_searched_forever():
    with pytest.raises(ValueError):
        WorkingCalendar(LJUBLJANA, weekdays=frozenset()).add(local(2026, 12, 9, 9), HOURS)


def test_service_levels_are_read_in_hours_minutes_and_working_days():
    day = dt.timedelta(hours=8)
    assert parse_duration("16h", day) == 16 * HOURS
    assert parse_duration("90m", day) == dt.timedelta(minutes=90)
    assert parse_duration("2d", day) == 16 * HOURS
    assert parse_duration("1d 4h", day) == 12 * HOURS
    for wrong in ("", "16", "16 hours", "0h", "-1h", "h"):
        with pytest.raises(SettingsError):
            parse_duration(wrong, day)


def test_working_days_and_hours_settings_are_checked():
    assert parse_weekdays("mon, tue wednesday") == frozenset({0, 1, 2})
    assert parse_hours("07:30-15:30") == (dt.time(7, 30), dt.time(15, 30))
    for wrong in ("", "monday funday"):
        with pytest.raises(SettingsError):
            parse_weekdays(wrong)
    for wrong in ("8-16", "16:00-08:00", "25:00-26:00"):
        with pytest.raises(SettingsError):
            parse_hours(wrong)
    with pytest.raises(SettingsError):
        calendar_from_settings({"cases.holidays": "XX"})
    with pytest.raises(SettingsError):
        calendar_from_settings({"cases.extra_holidays": "24.12.2026"})
