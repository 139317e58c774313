"""Typed money: ``parse_amount`` and the forms that read amounts through it give the same answer for the same
text (the seller's shipping and product forms, the storefront's price range)."""

from __future__ import annotations

import pytest

from souk.errors import Invalid
from souk.kit.money import parse_amount
from souk.web.seller.catalog import parse_product_form
from souk.web.seller.shipping import parse_method_form
from souk.web.storefront.routes import parse_filters


def _problem(text: str, currency: str, **kwargs: object) -> str:
    with pytest.raises(Invalid) as caught:
        parse_amount(text, currency, "price", **kwargs)  # type: ignore[arg-type]
    assert caught.value.status == 422 and list(caught.value.fields) == ["price"]
    return caught.value.fields["price"]


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.5", "USD", 1250),
        ("12.50", "USD", 1250),
        (" 12 ", "USD", 1200),
        ("0.05", "USD", 5),
        (".5", "USD", 50),
        ("1,250.00", "USD", 125000),
        ("1 250", "JPY", 1250),
        ("490", "JPY", 490),
        ("12.500", "USD", 1250),  # trailing zeros are not extra precision
        ("7.5", "EUR", 750),
    ],
)
def test_amounts_people_type(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "problem"),
    [
        ("abc", "USD", "must be an amount like 12.50"),
        ("1e5", "USD", "must be an amount like 12.50"),  # no exponents
        ("12,50", "USD", "must be an amount like 12.50"),  # a decimal comma is refused, never read as 1250
        ("1,25", "USD", "must be an amount like 12.50"),
        ("12.345", "USD", "must be an amount like 12.50"),  # more decimals than the currency has
        ("4.90", "JPY", "must be an amount like 1250"),  # JPY has none
        ("NaN", "USD", "must be an amount like 12.50"),
        ("+5", "USD", "must be an amount like 12.50"),
        ("", "USD", "must be an amount like 12.50"),
        (".", "USD", "must be an amount like 12.50"),
        ("-1", "USD", "must be more than zero"),
        ("0", "USD", "must be more than zero"),
        ("9" * 5000, "USD", "must be at most 10000000000000.00"),
    ],
)
def test_refused_amounts_name_the_field(text: str, currency: str, problem: str) -> None:
    assert _problem(text, currency) == problem


def test_limits_and_wording_are_the_callers() -> None:
    assert parse_amount("0", "USD", minimum=0) == 0
    assert _problem("-1", "USD", minimum=0) == "must not be negative"
    assert _problem("4.99", "USD", minimum=500) == "must be at least 5.00"
    assert _problem("100.01", "USD", maximum=10000) == "must be at most 100.00"
    assert (
        _problem("x", "JPY", hint="enter an amount like {example}", example=490) == "enter an amount like 490"
    )


SAME_TEXT = [
    ("12.5", "USD", 1250),
    (" 12 ", "USD", 1200),
    ("1,250.00", "USD", 125000),
    ("12,50", "USD", None),
    ("1e5", "USD", None),
    ("abc", "USD", None),
    ("12.345", "USD", None),
    ("4.90", "JPY", None),
    ("490", "JPY", 490),
    ("-1", "USD", None),
]


@pytest.mark.parametrize(("text", "currency", "minor"), SAME_TEXT)
def test_shipping_and_product_forms_and_the_price_range_agree(
    text: str, currency: str, minor: int | None
) -> None:
    # the shipping form
    values = {"name": "Std", "kind": "surface", "price_amount": text}
    shipping: int | str
    try:
        shipping = parse_method_form(values, currency)["price_amount"]
    except Invalid as error:
        shipping = error.fields["price_amount"]
    # the product form (one SKU)
    store = {"currency": currency, "sourcing": False}
    parsed = parse_product_form(
        {"title": "Pot", "category_id": "1", "skus.0.price_amount": text}, store, 0, editing=False
    )
    product = parsed.errors.get("skus.0.price_amount") or parsed.payload["skus"][0]["price_amount"]
    # the storefront's price range
    filters = parse_filters({"min_price": text, "currency": currency})
    storefront = filters.errors.get("min_price") or filters.filters.min_price

    if minor is not None:
        assert shipping == product == storefront == minor
    else:
        # refused everywhere, for the same reason (the wording of the shape hint is each page's own)
        assert isinstance(shipping, str) and isinstance(product, str) and isinstance(storefront, str)
        if text == "-1":
            assert shipping == product == storefront == "must not be negative"
        else:
            example = "1250" if currency == "JPY" else "12.50"
            assert storefront == f"must be an amount like {example}"
            assert product == f"enter an amount like {example}"
            assert shipping == f"enter an amount like {'490' if currency == 'JPY' else '4.90'}"


class TestBasisPoints:
    def test_percent_text(self):
        from souk.kit.money import bps_percent

        assert [bps_percent(b) for b in (3000, 2550, 5, 0, 10000)] == ["30", "25.5", "0.05", "0", "100"]

    def test_parse_percent(self):
        from souk.errors import Invalid
        from souk.kit.money import parse_percent_bps

        assert parse_percent_bps("30", "deposit") == 3000
        assert parse_percent_bps(" 12.5 % ", "deposit") == 1250
        assert parse_percent_bps("", "deposit") is None
        for bad in ("101", "-5", "abc", "1e2", "12.345", "30,5"):
            with pytest.raises(Invalid) as caught:
                parse_percent_bps(bad, "deposit")
            assert "deposit" in caught.value.fields
