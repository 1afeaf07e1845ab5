"""Late payment interest arithmetic, checked against amounts computed by hand:
owed × rate / 100 × days / 365, rounded once on the total, half up, to the minor unit."""

import datetime as dt
from decimal import Decimal

import pytest

from portal.money import Money
from portal.services.interest import interest_rate, late_interest
from portal.settings import SettingsError

DUE = dt.date(2026, 3, 31)


def eur(minor):
    return Money(minor, "EUR")


@pytest.mark.parametrize(
    ("owed", "days", "rate", "expected"),
    [
        # 1000.00 × 0.08 × 30 / 365 = 6.575342... -> 6.58
        (eur(1000_00), 30, "8", eur(6_58)),
        # 184.50 × 0.08 × 45 / 365 = 664.2 / 365 = 1.819726... -> 1.82
        (eur(184_50), 45, "8", eur(1_82)),
        # 365.00 × 0.005 × 1 / 365 = 0.005 exactly: half up gives 0.01 (half even would give 0.00)
        (eur(365_00), 1, "0.5", eur(1)),
        # 100.00 × 0.08 × 10 / 365 = 0.219178... -> 0.22; rounding each day would give 0.20
        (eur(100_00), 10, "8", eur(22)),
        # 2000.00 × 0.0725 × 100 / 365 = 39.726027... -> 39.73
        (eur(2000_00), 100, "7.25", eur(39_73)),
        # a currency without minor units: 10000 × 0.08 × 10 / 365 = 21.917808... -> 22
        (Money(10000, "JPY"), 10, "8", Money(22, "JPY")),
        # 0.04 × 0.08 × 1 / 365 rounds to nothing
        (eur(4), 1, "8", eur(0)),
    ],
)
def test_interest_matches_hand_computed_amounts(owed, days, rate, expected):
    on = DUE + dt.timedelta(days=days)
    assert late_interest(owed, DUE, on, Decimal(rate)) == expected


@pytest.mark.parametrize("on", [DUE - dt.timedelta(days=10), DUE])
def test_no_interest_until_the_day_after_the_due_date(on):
    assert late_interest(eur(1000_00), DUE, on, Decimal("8")) == eur(0)


def test_actual_days_over_365_even_in_a_leap_year():
    """28 Feb to 1 Mar 2028 is 2 days (29 Feb counts); the year still has 365 days:
    1000.00 × 0.08 × 2 / 365 = 0.438356... -> 0.44."""
    assert late_interest(
        eur(1000_00), dt.date(2028, 2, 28), dt.date(2028, 3, 1), Decimal("8")
    ) == eur(44)


def test_the_rate_comes_from_the_settings_with_8_percent_by_default():
    assert interest_rate({}) == Decimal("8")
    assert interest_rate({"services.tax.interest_rate_percent": " 7.25 "}) == Decimal("7.25")


@pytest.mark.parametrize("value", ["eight", "-1", "101", "NaN", "Infinity"])
def test_a_bad_rate_stops_the_portal_at_start(value):
    with pytest.raises(SettingsError):
        interest_rate({"services.tax.interest_rate_percent": value})
