"""The address book pages: list, add, edit, delete, make default. They call the same service as the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.address.schemas import AddressCreate, AddressRead, AddressUpdate
from souk.address.service import address_service
from souk.auth.actor import Actor
from souk.deps import DbSession
from souk.errors import Conflict, Invalid
from souk.kit.countries import countries
from souk.kit.schemas import IdPath
from souk.web.deps import UserPage
from souk.web.render import checked_form, flash, form_error, form_values, redirect, render

router = APIRouter()

LIST_TEMPLATE = "buyer/addresses.html"
EDIT_TEMPLATE = "buyer/address_form.html"
FIELDS = ("full_name", "phone", "line1", "line2", "city", "region", "postal_code", "country")
FORM_ERRORS = (ValidationError, Invalid, Conflict)


def _fields(values: dict[str, str]) -> dict[str, str]:
    return {key: values.get(key, "") for key in FIELDS}


async def _list_context(session: AsyncSession, actor: Actor) -> dict[str, Any]:
    # plain read models: they survive the rollback of a failed form
    addresses = [AddressRead.model_validate(a) for a in await address_service.list_mine(session, actor)]
    return {"addresses": addresses, "countries": list(countries().items()), "section": "addresses"}


@router.get("/account/addresses", response_class=HTMLResponse)
async def addresses_page(request: Request, actor: UserPage, session: DbSession) -> HTMLResponse:
    return render(request, LIST_TEMPLATE, await _list_context(session, actor))


@router.post("/account/addresses")
async def add_address(request: Request, actor: UserPage, session: DbSession) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    data: dict[str, Any] = {**_fields(values), "is_default": values.get("is_default") == "on"}
    try:
        await address_service.create(session, actor, AddressCreate.model_validate(data))
    except FORM_ERRORS as error:
        await session.rollback()
        ctx = await _list_context(session, actor)
        return await form_error(request, session, LIST_TEMPLATE, error, {**ctx, "values": values})
    flash(request, "Address added")
    return redirect("/account/addresses")


async def _edit_context(session: AsyncSession, actor: Actor, address_id: int) -> dict[str, Any]:
    address = AddressRead.model_validate(await address_service.get(session, actor, address_id))
    return {"address": address, "countries": list(countries().items()), "section": "addresses"}


@router.get("/account/addresses/{address_id}/edit", response_class=HTMLResponse)
async def edit_address_page(
    request: Request, address_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    ctx = await _edit_context(session, actor, address_id)
    return render(request, EDIT_TEMPLATE, {**ctx, "values": ctx["address"].model_dump(include=set(FIELDS))})


@router.post("/account/addresses/{address_id}/edit")
async def save_address(request: Request, address_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    ctx = await _edit_context(session, actor, address_id)
    try:
        await address_service.update(
            session, actor, address_id, AddressUpdate.model_validate(_fields(values))
        )
    except FORM_ERRORS as error:
        return await form_error(request, session, EDIT_TEMPLATE, error, {**ctx, "values": values})
    flash(request, "Address saved")
    return redirect("/account/addresses")


@router.post("/account/addresses/{address_id}/delete")
async def delete_address(
    request: Request, address_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    await checked_form(request)
    await address_service.delete(session, actor, address_id)
    flash(request, "Address deleted")
    return redirect("/account/addresses")


@router.post("/account/addresses/{address_id}/default")
async def make_default(request: Request, address_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    await checked_form(request)
    address = await address_service.make_default(session, actor, address_id)
    flash(request, f"Deliveries go to {address.full_name}, {address.city} by default")
    return redirect("/account/addresses")
