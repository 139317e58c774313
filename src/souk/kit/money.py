"""Money: integer minor units plus an ISO 4217 currency. Never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision, list_currencies

_KNOWN = frozenset(list_currencies())
# Currencies the marketplace accepts for stores and prices (ISO 4217, active).
SUPPORTED_CURRENCIES: tuple[str, ...] = (
    "USD",
    "EUR",
    "GBP",
    "CNY",
    "JPY",
    "KRW",
    "INR",
    "BRL",
    "AUD",
    "CAD",
    "CHF",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "TRY",
    "AED",
    "SAR",
    "SGD",
    "HKD",
    "TWD",
    "THB",
    "VND",
    "IDR",
    "MYR",
    "PHP",
    "MXN",
    "ZAR",
    "NGN",
    "EGP",
    "KES",
    "MAD",
    "RUB",
    "NZD",
    "CZK",
    "HUF",
    "ILS",
    "CLP",
    "COP",
    "PEN",
    "ARS",
    "PKR",
)


def is_currency(code: str) -> bool:
    return code in _KNOWN and code in SUPPORTED_CURRENCIES


def minor_digits(currency: str) -> int:
    """Number of decimal digits in the currency's minor unit (USD 2, JPY 0, ...)."""
    return int(get_currency_precision(currency))


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError("Money.amount must be an int of minor units")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"not an ISO 4217 code: {self.currency!r}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, qty: int) -> Money:
        return Money(self.amount * qty, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-minor_digits(self.currency))

    def format(self, locale: str = "en_US") -> str:
        return format_money(self.amount, self.currency, locale)


def format_money(amount: int, currency: str, locale: str = "en_US") -> str:
    value = Decimal(amount).scaleb(-minor_digits(currency))
    return str(format_currency(value, currency, locale=locale))


def to_minor(value: Decimal | str, currency: str) -> int:
    """Parse a decimal amount typed by a person ("12.50") into minor units; refuses extra precision."""
    dec = Decimal(str(value).strip())
    scaled = dec.scaleb(minor_digits(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"too many decimal places for {currency}")
    return int(scaled)


def from_minor(amount: int, currency: str) -> str:
    """Minor units to a plain decimal string for form inputs ("12.50")."""
    digits = minor_digits(currency)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f}"


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` by largest remainder; the parts sum to ``total``."""
    if not weights or sum(weights) <= 0:
        raise ValueError("weights must be positive")
    wsum = sum(weights)
    shares = [total * w // wsum for w in weights]
    remainders = [(total * w % wsum, -i) for i, w in enumerate(weights)]
    for _, neg_i in sorted(remainders, reverse=True)[: total - sum(shares)]:
        shares[-neg_i] += 1
    return shares


def parse_amount(text: str, currency: str, field: str = "amount") -> int:
    """A positive amount typed by a person ("12.50", "1,250.00") in minor units, or a 422 naming ``field``."""
    from souk.errors import invalid_field

    cleaned = text.replace(",", "").replace(" ", "").strip()
    try:
        value = to_minor(cleaned, currency)
    except (ArithmeticError, ValueError) as exc:
        raise invalid_field(field, f"must be an amount like {from_minor(1250, currency)}") from exc
    if value <= 0:
        raise invalid_field(field, "must be more than zero")
    return value
