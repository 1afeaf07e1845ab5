"""What the Money type promises, for any amounts Hypothesis draws: arithmetic is exact and
stays in one currency, an amount read from what a person types is that amount or a refusal
(never a rounded one), and an amount formatted for a reader says that amount in that currency.

Draws are derandomized and bounded, so every run checks the same few hundred cases quickly.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import get_currency_symbol, parse_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.money import CURRENCY_CODES, MAX_AMOUNT, Money, MoneyError

PROPERTIES = settings(max_examples=300, derandomize=True, deadline=None, database=None)
CURRENCIES = st.sampled_from(sorted(CURRENCY_CODES))
#: what any bill, payment or ledger total could reach, and past it (minor units)
MINOR = st.integers(min_value=-(10**16), max_value=10**16)
LOCALES = st.sampled_from(["en", "sl", "de", "fr", "en_GB"])


def amounts(currency=CURRENCIES, minor=MINOR):
    return st.builds(Money, minor=minor, currency=currency)


@st.composite
def same_currency(draw, count: int):
    currency = draw(CURRENCIES)
    return [Money(draw(MINOR), currency) for _ in range(count)]


@st.composite
def different_currencies(draw):
    first, second = draw(st.lists(CURRENCIES, min_size=2, max_size=2, unique=True))
    return Money(draw(MINOR), first), Money(draw(MINOR), second)


def typed(amount: Money) -> str:
    """``amount`` as a person would type it: every decimal the currency has, no grouping."""
    return f"{amount.decimal():f}"


@PROPERTIES
@given(same_currency(3))
def test_addition_is_exact_commutative_and_associative(three):
    a, b, c = three
    assert (a + b).minor == a.minor + b.minor
    assert a + b == b + a
    assert (a + b) + c == a + (b + c)
    assert a + Money(0, a.currency) == a
    assert (a + b).currency == a.currency


@PROPERTIES
@given(same_currency(2))
def test_subtraction_undoes_addition_and_negation_is_subtraction_from_zero(two):
    a, b = two
    assert (a + b) - b == a
    assert a - b == a + (-b)
    negated = -a
    assert -negated == a
    assert Money(0, a.currency) - a == -a


@PROPERTIES
@given(same_currency(2))
def test_order_follows_the_minor_units(two):
    a, b = two
    assert (a < b) == (a.minor < b.minor)
    assert (a <= b) == (a.minor <= b.minor)
    assert (a > b) == (a.minor > b.minor)
    assert a <= a and not a < a


@PROPERTIES
@given(different_currencies())
def test_amounts_in_different_currencies_are_never_combined_or_compared(pair):
    a, b = pair
    for combine in (
        lambda: a + b,
        lambda: a - b,
        lambda: a < b,
        lambda: a <= b,
        lambda: b > a,
    ):
        with pytest.raises(MoneyError, match="different currencies"):
            combine()
    assert a != b


@PROPERTIES
@given(amounts(), st.one_of(st.integers(), st.decimals(allow_nan=False), st.none()))
def test_money_is_never_combined_with_a_bare_number(amount, number):
    with pytest.raises(MoneyError):
        amount + number
    with pytest.raises(MoneyError):
        amount - number


@PROPERTIES
@given(st.one_of(st.floats(allow_nan=False), st.booleans(), st.decimals(), st.text()), CURRENCIES)
def test_only_a_whole_number_of_minor_units_is_money(minor, currency):
    with pytest.raises(MoneyError):
        Money(minor, currency)


@PROPERTIES
@given(MINOR, st.text(min_size=1, max_size=4))
def test_only_the_supported_currencies_are_money(minor, currency):
    if currency in CURRENCY_CODES:
        assert Money(minor, currency).currency == currency
    else:
        with pytest.raises(MoneyError):
            Money(minor, currency)


def below_the_maximum(currency_amount: Money) -> bool:
    return abs(currency_amount.decimal()) < MAX_AMOUNT


@PROPERTIES
@given(amounts().filter(below_the_maximum), st.sampled_from([" ", "\t", "\n", ""]))
def test_an_amount_as_typed_reads_back_as_itself(amount, space):
    text = typed(amount)
    assert Money.parse(f"{space}{text}{space}", amount.currency) == amount
    assert Money.parse(text.replace(".", ","), amount.currency) == amount
    assert Money.parse(f"{amount.decimal():E}", amount.currency) == amount


@PROPERTIES
@given(amounts().filter(below_the_maximum), st.integers(1, 9), st.integers(0, 40))
def test_a_digit_past_the_currencys_decimals_is_refused_not_rounded(amount, digit, zeros):
    """However far past the currency's decimals it sits (even past the 28 digits of a decimal
    context, or written as an exponent of a billion)."""
    text = typed(amount)
    if amount.exponent == 0:
        text += "."
    with pytest.raises(MoneyError, match="too many decimals"):
        Money.parse(f"{text}{'0' * zeros}{digit}", amount.currency)
    with pytest.raises(MoneyError, match="too many decimals"):
        Money.parse(f"{digit}e-{10**9 + zeros}", amount.currency)


@PROPERTIES
@given(
    st.sampled_from(["", "-", "+"]),
    st.one_of(
        st.integers(int(MAX_AMOUNT), 10**30).map(str),
        st.builds("{}.{}e{}".format, st.integers(1, 9), st.integers(0), st.integers(12, 10**9)),
    ),
    CURRENCIES,
)
def test_an_amount_past_the_maximum_is_refused(sign, digits, currency):
    with pytest.raises(MoneyError, match="not an amount"):
        Money.parse(f"{sign}{digits}", currency)


@PROPERTIES
@given(st.text(max_size=40), CURRENCIES)
def test_any_text_is_an_amount_or_a_refusal(text, currency):
    """Never another exception, never a float: what a form or an import hands over."""
    try:
        amount = Money.parse(text, currency)
    except MoneyError:
        return
    assert isinstance(amount.minor, int)
    assert abs(amount.decimal()) < MAX_AMOUNT


@PROPERTIES
@given(amounts(), LOCALES)
def test_a_formatted_amount_says_that_amount_in_that_currency(amount, locale):
    formatted = amount.format(locale)
    symbol = get_currency_symbol(amount.currency, locale)
    assert symbol in formatted
    number = formatted.replace(symbol, "").replace("\xa0", " ").strip()
    assert parse_decimal(number, locale=locale, strict=True) == amount.decimal()
    assert amount.decimal() == Decimal(amount.minor).scaleb(-amount.exponent)
