"""The address book: a user's delivery addresses, one of them the default. Flushes, never commits.

Every address is read through a statement limited to the actor's own addresses: another user's address id is
404, the same as one that does not exist. The first address becomes the default; deleting the default makes
the newest remaining address the default. Orders copy the address they ship to (deleting one is safe)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from souk.address.repository import AddressRepository
from souk.address.schemas import MAX_ADDRESSES, AddressCreate, AddressUpdate
from souk.auth.actor import Actor
from souk.authz import require_user, require_writer
from souk.errors import Conflict, Invalid, NotFound
from souk.models import Address

REQUIRED = ("full_name", "phone", "line1", "city", "country")


class AddressNotFound(NotFound):
    code = "address_not_found"

    def __init__(self) -> None:
        super().__init__("No such address.")


class AddressService:
    async def list_mine(self, session: AsyncSession, actor: Actor) -> list[Address]:
        """The actor's addresses, the default first, then newest first."""
        return await AddressRepository(session).of_user(require_user(actor))

    async def get(self, session: AsyncSession, actor: Actor, address_id: int) -> Address:
        address = await AddressRepository(session).get(require_user(actor), address_id)
        if address is None:
            raise AddressNotFound()
        return address

    async def get_default(self, session: AsyncSession, actor: Actor) -> Address | None:
        """The default address (checkout preselects it), or None when the book is empty."""
        addresses = await self.list_mine(session, actor)
        return addresses[0] if addresses else None

    async def create(self, session: AsyncSession, actor: Actor, payload: AddressCreate) -> Address:
        user_id = require_writer(actor)
        repo = AddressRepository(session)
        count = await repo.count(user_id)
        if count >= MAX_ADDRESSES:
            raise Conflict(
                f"An address book holds at most {MAX_ADDRESSES} addresses; delete one you no longer use.",
                code="too_many_addresses",
            )
        make_default = payload.is_default or count == 0
        if make_default:
            await repo.clear_default(user_id)
        address = Address(
            user_id=user_id, **payload.model_dump(exclude={"is_default"}), is_default=make_default
        )
        session.add(address)
        await session.flush()
        return address

    async def update(
        self, session: AsyncSession, actor: Actor, address_id: int, payload: AddressUpdate
    ) -> Address:
        require_writer(actor)
        address = await self.get(session, actor, address_id)
        changes = payload.model_dump(exclude_unset=True)
        missing = {key: "must not be empty" for key in REQUIRED if key in changes and changes[key] is None}
        if missing:
            raise Invalid("Please correct the fields marked.", fields=missing)
        for key, value in changes.items():
            setattr(address, key, "" if value is None else value)
        await session.flush()
        return address

    async def delete(self, session: AsyncSession, actor: Actor, address_id: int) -> None:
        user_id = require_writer(actor)
        address = await self.get(session, actor, address_id)
        was_default = address.is_default
        await session.delete(address)
        await session.flush()
        if was_default:
            successor = await AddressRepository(session).newest(user_id)
            if successor is not None:
                successor.is_default = True
                await session.flush()

    async def make_default(self, session: AsyncSession, actor: Actor, address_id: int) -> Address:
        user_id = require_writer(actor)
        address = await self.get(session, actor, address_id)
        if not address.is_default:
            await AddressRepository(session).clear_default(user_id)
            address.is_default = True
            await session.flush()
        return address


address_service = AddressService()
