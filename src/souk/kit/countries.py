"""ISO 3166-1 alpha-2 country codes and their English names (from Babel's CLDR data)."""

from __future__ import annotations

from functools import cache

from babel import Locale

# CLDR territories that are not ISO 3166-1 countries: reserved or user-assigned codes and groupings
_NOT_COUNTRIES = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "XK", "ZZ"}
)


@cache
def countries(locale: str = "en") -> dict[str, str]:
    """{"CN": "China", ...}: every ISO 3166-1 alpha-2 code with its name, sorted by name."""
    names = Locale.parse(locale).territories
    pairs = [
        (code, str(name))
        for code, name in names.items()
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    ]
    return dict(sorted(pairs, key=lambda pair: pair[1]))


def is_country(code: str) -> bool:
    return code in countries()


def country_name(code: str) -> str:
    return countries().get(code, code)
