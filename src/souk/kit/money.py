"""Money: integer minor units plus an ISO 4217 currency. Never a float."""

from __future__ import annotations

import re
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


# What a person may type as an amount: digits with an optional decimal point, optionally grouped by thousands
# with commas or spaces ("1,250.00", "1 250"). No exponent ("1e5"), no sign other than a leading "-" (reported
# as negative), and no decimal comma: "12,50" is refused rather than read as 1250.
_AMOUNT = re.compile(
    r"(?P<sign>-?)(?P<whole>\d+|\d{1,3}(?:(?P<sep>[, \u00a0\u202f])\d{3})(?:(?P=sep)\d{3})*)?(?:\.(?P<frac>\d*))?",
    re.ASCII,
)
# The largest amount a form accepts unless the caller gives its own limit (far inside a 64-bit column).
MAX_TYPED_AMOUNT = 10**15


def parse_amount(
    text: str,
    currency: str,
    field: str = "amount",
    *,
    minimum: int = 1,
    maximum: int = MAX_TYPED_AMOUNT,
    hint: str = "must be an amount like {example}",
    example: int = 1250,
) -> int:
    """An amount typed by a person ("12.50", "12.5", " 12 ", "1,250.00") in minor units of ``currency``, or a
    422 naming ``field``. Every money field of the web forms goes through here, so the same text gets the same
    answer everywhere: text that is not a plain decimal, and decimals the currency does not have ("12.345" in
    USD, "4.90" in JPY), give ``hint`` (with ``{example}`` as ``example`` minor units written out, "12.50" or
    "1250"); then the amount must be between ``minimum`` (1: "more than zero"; 0: "not negative") and
    ``maximum``."""
    from souk.errors import invalid_field

    match = _AMOUNT.fullmatch(text.strip())
    if match is None or (match["whole"] is None and not match["frac"]):
        raise invalid_field(field, hint.format(example=from_minor(example, currency)))
    whole = re.sub(r"\D", "", match["whole"] or "") or "0"
    frac = (match["frac"] or "").rstrip("0")
    digits = minor_digits(currency)
    if len(frac) > digits:
        raise invalid_field(field, hint.format(example=from_minor(example, currency)))
    if len(whole.lstrip("0")) > 30:  # far past any maximum (and int() refuses thousands of digits)
        raise invalid_field(field, f"must be at most {from_minor(maximum, currency)}")
    value = int(whole + frac.ljust(digits, "0"))
    if match["sign"] and value:
        value = -value
    if value < minimum:
        if minimum == 1:
            raise invalid_field(field, "must be more than zero")
        if minimum == 0:
            raise invalid_field(field, "must not be negative")
        raise invalid_field(field, f"must be at least {from_minor(minimum, currency)}")
    if value > maximum:
        raise invalid_field(field, f"must be at most {from_minor(maximum, currency)}")
    return value


# --- rates in basis points (1 % = 100 bps) ---------------------------------------------------------------


def bps_percent(bps: int) -> str:
    """Basis points as a percentage without trailing zeros: 3000 -> "30", 2550 -> "25.5", 5 -> "0.05"."""
    text = f"{Decimal(bps) / 100:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_percent_bps(text: str, field: str) -> int | None:
    """A percentage typed into a form ("30", "12.5", "30 %") as basis points; None when empty. A clear 422 naming
    ``field`` for anything that is not a percentage from 0 to 100 with at most two decimals."""
    from souk.errors import invalid_field

    clean = text.strip().rstrip("%").strip()
    if not clean:
        return None
    if not re.fullmatch(r"\d{1,3}(\.\d{1,2})?", clean):
        raise invalid_field(field, "enter a percentage from 0 to 100, like 30 or 12.5")
    bps = int(Decimal(clean) * 100)
    if bps > 10_000:
        raise invalid_field(field, "enter a percentage from 0 to 100, like 30 or 12.5")
    return bps
