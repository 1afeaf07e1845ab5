"""Working time: when a case is due, counted in the working hours of the portal's time zone.

A service level of 16 hours means two working days of eight hours, not the next morning: the
clock runs only on working days (``cases.working_days``), between the opening and closing hour
(``cases.working_hours``), and not on public holidays (``cases.holidays``, a country code of
the ``holidays`` library, plus any dates in ``cases.extra_holidays``). Each day's window is
built in the portal's time zone and the arithmetic is done in UTC, so a day on which the
clocks change is still a day of the same working hours.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import holidays

from portal.settings import SettingsError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_WORKING_DAYS = "mon tue wed thu fri"
DEFAULT_WORKING_HOURS = "08:00-16:00"
#: no service level runs longer than this many calendar days (a guard against a calendar
#: with no working time at all, such as a typo in the working days)
_LONGEST_SEARCH = dt.timedelta(days=3660)

_HOURS = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
_DURATION = re.compile(r"(\d+)\s*([dhm])")


@dataclass(frozen=True)
class WorkingCalendar:
    """When the portal's offices work: weekdays (0 = Monday), the daily opening and closing
    time, and the days off."""

    timezone: ZoneInfo
    weekdays: frozenset[int] = frozenset(range(5))
    opens: dt.time = dt.time(8)
    closes: dt.time = dt.time(16)
    days_off: Container[dt.date] = field(default_factory=frozenset)

    @property
    def day_length(self) -> dt.timedelta:
        return dt.datetime.combine(dt.date.min, self.closes) - dt.datetime.combine(
            dt.date.min, self.opens
        )

    def works_on(self, day: dt.date) -> bool:
        return day.weekday() in self.weekdays and day not in self.days_off

    def window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """The working hours of ``day`` as aware UTC times."""
        opens = dt.datetime.combine(day, self.opens, self.timezone).astimezone(dt.UTC)
        closes = dt.datetime.combine(day, self.closes, self.timezone).astimezone(dt.UTC)
        return opens, closes

    def add(self, start: dt.datetime, working: dt.timedelta) -> dt.datetime:
        """The moment ``working`` time after ``start`` (aware), counting working hours only;
        in UTC. Time that starts outside working hours starts at the next opening."""
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        cursor = start.astimezone(dt.UTC)
        left = working
        day = cursor.astimezone(self.timezone).date()
        last_day = day + _LONGEST_SEARCH
        while day <= last_day:
            if self.works_on(day):
                opens, closes = self.window(day)
                begin = max(cursor, opens)
                if begin < closes:
                    if begin + left <= closes:
                        return begin + left
                    left -= closes - begin
                    cursor = closes
            day += dt.timedelta(days=1)
        raise ValueError("the working calendar has no working time")

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Working time from ``start`` to ``end`` (zero if ``end`` is not after ``start``)."""
        total = dt.timedelta()
        day = start.astimezone(self.timezone).date()
        last = end.astimezone(self.timezone).date()
        while day <= last:
            if self.works_on(day):
                opens, closes = self.window(day)
                begin, finish = max(start, opens), min(end, closes)
                if begin < finish:
                    total += finish - begin
            day += dt.timedelta(days=1)
        return total


def parse_weekdays(text: str) -> frozenset[int]:
    names = text.lower().replace(",", " ").split()
    unknown = [name for name in names if name[:3] not in WEEKDAYS]
    if unknown or not names:
        raise SettingsError(f"cases.working_days: not weekdays: {text!r} (e.g. 'mon tue wed')")
    return frozenset(WEEKDAYS.index(name[:3]) for name in names)


def parse_hours(text: str) -> tuple[dt.time, dt.time]:
    found = _HOURS.fullmatch(text.replace(" ", ""))
    if not found:
        raise SettingsError(f"cases.working_hours: {text!r} is not like '08:00-16:00'")
    h1, m1, h2, m2 = (int(part) for part in found.groups())
    try:
        opens, closes = dt.time(h1, m1), dt.time(h2, m2)
    except ValueError:
        raise SettingsError(f"cases.working_hours: {text!r} is not a time of day") from None
    if closes <= opens:
        raise SettingsError(f"cases.working_hours: {text!r} closes before it opens")
    return opens, closes


def parse_duration(text: str, day_length: dt.timedelta) -> dt.timedelta:
    """``16h``, ``90m``, ``2d`` (working days of ``day_length``) or a sum (``1d 4h``)."""
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    if not parts or _DURATION.sub("", compact).strip():
        raise SettingsError(f"not a working time: {text!r} (e.g. '16h', '2d', '1d 4h')")
    total = dt.timedelta()
    for amount, unit in parts:
        if unit == "d":
            total += int(amount) * day_length
        elif unit == "h":
            total += dt.timedelta(hours=int(amount))
        else:
            total += dt.timedelta(minutes=int(amount))
    if total <= dt.timedelta():
        raise SettingsError(f"a service level must be longer than nothing: {text!r}")
    return total


class _DaysOff:
    """Public holidays of a country (the ``holidays`` library, years loaded as asked) and
    extra dates of the portal's own."""

    def __init__(self, country: str, subdivision: str | None, extra: frozenset[dt.date]):
        self.public = (
            holidays.country_holidays(country, subdiv=subdivision or None) if country else None
        )
        self.extra = extra

    def __contains__(self, day: object) -> bool:
        return day in self.extra or (self.public is not None and day in self.public)


def calendar_from_settings(settings: Mapping) -> WorkingCalendar:
    opens, closes = parse_hours(settings.get("cases.working_hours", DEFAULT_WORKING_HOURS))
    country = settings.get("cases.holidays", "").strip().upper()
    try:
        extra = frozenset(
            dt.date.fromisoformat(text)
            for text in settings.get("cases.extra_holidays", "").replace(",", " ").split()
        )
    except ValueError:
        raise SettingsError("cases.extra_holidays: dates are written YYYY-MM-DD") from None
    try:
        days_off = _DaysOff(country, settings.get("cases.holidays_subdivision"), extra)
    except NotImplementedError:
        raise SettingsError(f"cases.holidays: no public holidays known for {country!r}") from None
    return WorkingCalendar(
        timezone=ZoneInfo(settings.get("portal.timezone", "UTC")),
        weekdays=parse_weekdays(settings.get("cases.working_days", DEFAULT_WORKING_DAYS)),
        opens=opens,
        closes=closes,
        days_off=days_off,
    )
