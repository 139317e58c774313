"""The address book: service rules, the /api/v1/me/addresses API and the /account/addresses pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fixtures.core import api_token_for, form, login_as
from fixtures.factories import actor_of
from souk.address.schemas import AddressCreate, AddressRead, AddressUpdate
from souk.address.service import AddressNotFound, address_service
from souk.auth.actor import Actor
from souk.errors import Forbidden, Invalid, Unauthenticated
from souk.models import Address

HOME = {
    "full_name": "Lena Vogel",
    "phone": "+49 30 1234567",
    "line1": "Torstraße 1",
    "line2": "3rd floor",
    "city": "Berlin",
    "postal_code": "10119",
    "country": "de",
}


class TestService:
    async def test_first_is_default_and_default_moves(self, session, user_factory, address_factory):
        user = await user_factory()
        me = actor_of(user)
        first = await address_factory(user, line1="1 First Street")
        second = await address_factory(user, line1="2 Second Street")
        third = await address_factory(user, line1="3 Third Street", is_default=True)
        listed = await address_service.list_mine(session, me)
        assert [a.line1 for a in listed] == ["3 Third Street", "2 Second Street", "1 First Street"]
        assert [a.is_default for a in listed] == [True, False, False]
        assert not first.is_default and not second.is_default

        await address_service.make_default(session, me, first.id)
        assert [a.id for a in await address_service.list_mine(session, me) if a.is_default] == [first.id]
        await address_service.delete(session, me, first.id)
        # the newest remaining address becomes the default
        assert (await address_service.get_default(session, me)).id == third.id  # type: ignore[union-attr]
        await address_service.delete(session, me, third.id)
        await address_service.delete(session, me, second.id)
        assert await address_service.get_default(session, me) is None

    async def test_validation_and_update(self, session, user_factory):
        me = actor_of(await user_factory())
        address = await address_service.create(session, me, AddressCreate.model_validate(HOME))
        read = AddressRead.model_validate(address)
        assert (read.country, read.country_name, read.is_default) == ("DE", "Germany", True)
        assert read.lines == [
            "Lena Vogel",
            "Torstraße 1",
            "3rd floor",
            "10119 Berlin",
            "Germany",
            "+49 30 1234567",
        ]
        for field, value in (("country", "XX"), ("phone", "call me"), ("full_name", "  "), ("line1", "")):
            with pytest.raises(ValueError, match=field):
                AddressCreate.model_validate({**HOME, field: value})
        updated = await address_service.update(
            session, me, address.id, AddressUpdate.model_validate({"line2": "", "city": "Potsdam"})
        )
        assert (updated.line2, updated.city, updated.line1) == ("", "Potsdam", "Torstraße 1")
        with pytest.raises(Invalid) as caught:
            await address_service.update(
                session, me, address.id, AddressUpdate.model_validate({"city": None})
            )
        assert caught.value.fields == {"city": "must not be empty"}

    async def test_other_users_addresses_are_not_found(self, session, user_factory, address_factory):
        owner = await user_factory()
        theirs = await address_factory(owner)
        stranger = actor_of(await user_factory())
        for call in (
            address_service.get(session, stranger, theirs.id),
            address_service.update(session, stranger, theirs.id, AddressUpdate(city="X")),
            address_service.delete(session, stranger, theirs.id),
            address_service.make_default(session, stranger, theirs.id),
        ):
            with pytest.raises(AddressNotFound):
                await call
        assert await address_service.list_mine(session, stranger) == []
        with pytest.raises(Unauthenticated):
            await address_service.list_mine(session, Actor())
        with pytest.raises(Forbidden):
            await address_service.create(
                session,
                Actor(user_id=owner.id, scopes=frozenset({"read"})),
                AddressCreate.model_validate(HOME),
            )


class TestApi:
    async def test_crud(self, client, session, user_factory):
        headers = await api_token_for(session, await user_factory())
        await session.commit()
        r = await client.post("/api/v1/me/addresses", json=HOME, headers=headers)
        assert r.status_code == 201, r.text
        home = r.json()
        assert (home["country"], home["is_default"], home["line2"], home["region"]) == (
            "DE",
            True,
            "3rd floor",
            "",
        )
        r = await client.post(
            "/api/v1/me/addresses",
            json={**HOME, "line1": "Work 5", "line2": "", "is_default": True},
            headers=headers,
        )
        work = r.json()
        assert r.status_code == 201 and work["is_default"] is True

        listed = (await client.get("/api/v1/me/addresses", headers=headers)).json()
        assert [(a["id"], a["is_default"]) for a in listed] == [(work["id"], True), (home["id"], False)]
        r = await client.patch(
            f"/api/v1/me/addresses/{home['id']}", json={"region": "Berlin"}, headers=headers
        )
        assert r.status_code == 200 and r.json()["region"] == "Berlin"
        r = await client.post(f"/api/v1/me/addresses/{home['id']}/default", headers=headers)
        assert r.status_code == 200 and r.json()["is_default"] is True
        assert (await client.get(f"/api/v1/me/addresses/{work['id']}", headers=headers)).json()[
            "is_default"
        ] is False
        r = await client.delete(f"/api/v1/me/addresses/{home['id']}", headers=headers)
        assert r.status_code == 204
        listed = (await client.get("/api/v1/me/addresses", headers=headers)).json()
        assert [(a["id"], a["is_default"]) for a in listed] == [(work["id"], True)]

    async def test_bad_input_and_other_users(self, client, session, user_factory, address_factory):
        owner = await user_factory()
        theirs = await address_factory(owner)
        headers = await api_token_for(session, await user_factory())
        theirs_id = theirs.id
        await session.commit()
        r = await client.post(
            "/api/v1/me/addresses", json={**HOME, "country": "ZZ", "phone": "x"}, headers=headers
        )
        assert r.status_code == 422 and set(r.json()["fields"]) == {"country", "phone"}
        r = await client.post("/api/v1/me/addresses", json={**HOME, "owner": 1}, headers=headers)
        assert r.status_code == 422
        for method, suffix in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/default")):
            r = await client.request(
                method,
                f"/api/v1/me/addresses/{theirs_id}{suffix}",
                json={"city": "X"} if method == "PATCH" else None,
                headers=headers,
            )
            assert r.status_code == 404 and r.json()["error"] == "address_not_found", (method, suffix)
        assert (await client.get("/api/v1/me/addresses")).status_code == 401
        assert (await session.get(Address, theirs_id)).city == "Berlin"  # type: ignore[union-attr]


class TestPages:
    async def test_add_edit_default_delete(self, client, session, user_factory):
        user = await user_factory()
        await login_as(client, session, user)
        user_id = user.id
        await session.commit()

        page = await client.get("/account/addresses")
        assert page.status_code == 200
        assert "No addresses yet." in page.text and 'href="/account/addresses" class="current"' in page.text
        assert f'name="csrf_token" value="{client.csrf}"' in page.text and '<option value="DE"' in page.text

        r = await client.post("/account/addresses", data=form(client, **{**HOME, "country": "DE"}))
        assert r.status_code == 303 and r.headers["location"] == "/account/addresses"
        r = await client.post(
            "/account/addresses",
            data=form(client, **{**HOME, "line1": "Work 5", "country": "DE"}, is_default="on"),
        )
        assert r.status_code == 303
        rows = (
            await session.scalars(select(Address).where(Address.user_id == user_id).order_by(Address.id))
        ).all()
        home, work = rows
        assert (home.is_default, work.is_default) == (False, True)

        page = await client.get("/account/addresses")
        assert "Address added" in page.text and "Torstraße 1" in page.text and "Work 5" in page.text
        assert f'action="/account/addresses/{home.id}/default"' in page.text
        assert f'action="/account/addresses/{work.id}/default"' not in page.text

        edit = await client.get(f"/account/addresses/{home.id}/edit")
        assert (
            edit.status_code == 200
            and 'value="Torstraße 1"' in edit.text
            and 'value="DE" selected' in edit.text
        )
        r = await client.post(
            f"/account/addresses/{home.id}/edit",
            data=form(client, **{**HOME, "country": "DE", "city": "Hamburg"}),
        )
        assert r.status_code == 303
        r = await client.post(f"/account/addresses/{home.id}/default", data=form(client))
        assert r.status_code == 303
        page = await client.get("/account/addresses")
        assert "Deliveries go to Lena Vogel, Hamburg by default" in page.text
        r = await client.post(f"/account/addresses/{work.id}/delete", data=form(client))
        assert r.status_code == 303
        page = await client.get("/account/addresses")
        assert "Address deleted" in page.text and "Work 5" not in page.text

    async def test_errors_rerender_with_values_kept(self, client, session, user_factory, address_factory):
        user = await user_factory()
        theirs = await address_factory(await user_factory())
        mine = await address_factory(user, line1="Mine 1")
        await login_as(client, session, user)
        theirs_id, mine_id = theirs.id, mine.id
        await session.commit()

        r = await client.post(
            "/account/addresses", data=form(client, **{**HOME, "country": "", "phone": "not a phone"})
        )
        assert r.status_code == 422
        assert 'id="e-country"' in r.text and 'id="e-phone"' in r.text and 'class="error-summary"' in r.text
        assert 'value="Torstraße 1"' in r.text and 'value="not a phone"' in r.text
        assert "Mine 1" in r.text  # the list is still there

        r = await client.post(
            f"/account/addresses/{mine_id}/edit", data=form(client, **{**HOME, "city": "", "country": "DE"})
        )
        assert r.status_code == 422 and 'id="e-city"' in r.text and 'value="Lena Vogel"' in r.text

        assert (await client.get(f"/account/addresses/{theirs_id}/edit")).status_code == 404
        r = await client.post(f"/account/addresses/{theirs_id}/delete", data=form(client))
        assert r.status_code == 404
        r = await client.post(f"/account/addresses/{mine_id}/delete", data={})
        assert r.status_code == 403
        assert await session.get(Address, theirs_id) is not None

    async def test_anonymous_goes_to_login(self, client):
        r = await client.get("/account/addresses")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/account/addresses"
