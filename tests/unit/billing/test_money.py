from decimal import Decimal

import pytest

from portal.money import Money, MoneyError


def test_parse_and_format_in_the_readers_locale():
    amount = Money.parse("1234.50", "EUR")
    assert amount == Money(123450, "EUR")
    assert amount.format("en") == "€1,234.50"
    assert amount.format("sl") == "1.234,50\xa0€"
    assert Money.parse("500", "JPY").format("en") == "¥500"


@pytest.mark.parametrize(
    "text",
    [
        "12.345",
        "abc",
        "NaN",
        "sNaN",
        "Infinity",
        "",
        "1e999999999",
        # once rounded to 1.00 and flushed to 0.00 by the decimal context
        "1.000000000000000000000000000001",
        "1e-1000000000",
    ],
)
def test_parse_refuses_what_is_not_an_amount(text):
    with pytest.raises(MoneyError):
        Money.parse(text, "EUR")


def test_no_floats_and_no_mixing_currencies():
    with pytest.raises(MoneyError):
        Money(12.5, "EUR")
    with pytest.raises(MoneyError):
        Money(1, "EUR") + Money(1, "USD")
    with pytest.raises(MoneyError):
        Money(1, "XXX")
    assert Money(150, "EUR") - Money(50, "EUR") == Money(100, "EUR")
    assert Money(150, "EUR").decimal() == Decimal("1.50")
