"""Money: integer minor units and an ISO 4217 currency. Never a float.

Amounts shown to people are formatted by Babel in the reader's locale.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, get_currency_precision

CURRENCY_CODES = frozenset(
    {"EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "JPY"}
)


#: no amount the portal handles comes near this; larger input is a typing mistake or an attack
MAX_AMOUNT = Decimal(10) ** 12


@lru_cache(maxsize=64)
def babel_locale(name: str) -> Locale:
    """Babel's ``Locale`` for ``name``, parsed once: given a name rather than a ``Locale``,
    Babel parses it again several times in every amount or date it formats (half the cost of
    formatting an amount)."""
    return Locale.parse(name)


class MoneyError(ValueError):
    pass


@dataclass(frozen=True, order=False)
class Money:
    minor: int
    currency: str

    def __post_init__(self):
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise MoneyError("money is a whole number of minor units")
        if self.currency not in CURRENCY_CODES:
            raise MoneyError(f"unsupported currency {self.currency!r}")

    @property
    def exponent(self) -> int:
        return get_currency_precision(self.currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """An amount typed by a person (``"12.30"``) to money; refuses more decimals than the
        currency has rather than rounding.

        Read from the decimal's own digits, exactly: scaling it in a decimal context would
        round to the context's 28 digits (``"1.000…0001"`` read as 1.00) and flush a tiny
        exponent to zero (``"1e-1000000000"`` read as 0.00)."""
        try:
            value = Decimal(text.strip().replace(",", "."))
        except ArithmeticError as error:
            raise MoneyError("not an amount") from error
        if not value.is_finite() or value.copy_abs() >= MAX_AMOUNT:
            raise MoneyError("not an amount")
        negative, digits, exponent = value.as_tuple()
        significant = "".join(map(str, digits)).rstrip("0")
        if not significant:
            return cls(0, currency)
        # the power of ten, in minor units, of the last digit that is not zero (the exponent
        # of a finite decimal is an int)
        power = int(exponent) + len(digits) - len(significant) + get_currency_precision(currency)
        if power < 0:
            raise MoneyError("too many decimals for the currency")
        minor = int(significant) * 10**power
        return cls(-minor if negative else minor, currency)

    def decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-self.exponent)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise MoneyError("cannot combine different currencies")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def format(self, locale: str = "en") -> str:
        return _formatted(self, locale)

    def __str__(self) -> str:
        return f"{self.decimal()} {self.currency}"


@lru_cache(maxsize=4096)
def _formatted(amount: Money, locale: str) -> str:
    """``amount`` as Babel writes it in ``locale``, once: a list of bills or payments shows
    the same amounts again and again, and Babel takes tens of microseconds for each."""
    return format_currency(amount.decimal(), amount.currency, locale=babel_locale(locale))
