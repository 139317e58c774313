from __future__ import annotations

import httpx

from souk.kit.money import allocate, format_money, from_minor, to_minor


async def test_healthz(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_unknown_api_path_is_json_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"


async def test_unknown_page_is_html_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/nothing-here")
    assert r.status_code == 404
    assert "Page not found" in r.text


def test_money_helpers() -> None:
    assert to_minor("12.50", "USD") == 1250
    assert to_minor("88", "JPY") == 88
    assert from_minor(1250, "USD") == "12.50"
    assert format_money(1250, "USD") == "$12.50"
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert sum(allocate(1001, [3, 7, 11])) == 1001


async def test_forms_carry_the_csrf_token_of_the_cookie(client: httpx.AsyncClient) -> None:
    # the hidden field rendered by the `csrf()` macro must hold the cookie's token, or real browsers get 403
    client.cookies.clear()
    r = await client.get("/login")
    cookie = r.cookies.get("souk_csrf")
    assert cookie
    assert f'name="csrf_token" value="{cookie}"' in r.text


def test_visitor_locale_from_accept_language() -> None:
    from souk.web.render import _negotiate, money

    assert _negotiate("de-DE,de;q=0.9,en;q=0.8") == "de_DE"
    assert _negotiate("xx-YY, fr;q=0.5") == "fr"
    assert _negotiate("*") == "en_001"
    assert money(999, "EUR", "de_DE") == "9,99\xa0€"
    assert money(1250, "USD") == "US$12.50"
    assert money(88, "JPY") == "JP¥88"
