"""What the buyer's form accepts as an amount, a quantity and a CPV code."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.money import Money, MoneyError
from portal.procurement.drafting import parse_amount, parse_quantity, valid_cpv


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("1,250.00", 125_000),
        ("1250", 125_000),
        ("1250.5", 125_050),
        ("1250,50", 125_050),
        ("250,000.00", 25_000_000),
        ("1,000,000", 100_000_000),
        (" 0 ", 0),
        ("1 250.00", 125_000),
    ],
)
def test_amounts_in_major_units(text, minor):
    assert parse_amount(text, "EUR") == Money(minor, "EUR")


@pytest.mark.parametrize(
    "text", ["", "-5", "+5", "12,34,5", "1.250,00", "10.001", "abc", "1e3", "NaN", "1" * 20]
)
def test_what_is_no_amount_is_refused(text):
    with pytest.raises(MoneyError):
        parse_amount(text, "EUR")


def test_quantities_are_positive_with_at_most_three_decimals():
    assert parse_quantity("8400") == Decimal("8400")
    assert parse_quantity("2,5") == Decimal("2.5")
    for text in ("0", "-1", "1.0001", "x", "Infinity", "1e12"):
        with pytest.raises(ValueError):
            parse_quantity(text)


def test_cpv_codes_are_eight_digits_a_hyphen_and_a_check_digit():
    assert valid_cpv("45233252-0")
    for code in ("45233252", "4523325-0", "45233252-00", "4523325A-0", "45233252 0"):
        assert not valid_cpv(code)


def test_a_bid_price_is_read_like_the_buyers_amounts():
    from portal.procurement.bids import read_price

    assert read_price("9,876,543.21", "EUR").minor == 987_654_321
    assert read_price("125000,50", "EUR").minor == 12_500_050
