"""Sourcing contracts (DOMAIN.md "Sourcing aggregates"). Flushes, never commits.

```
draft --both sides confirm--> confirmed --an amendment (version + 1) is confirmed--> superseded
  ^ any edit clears both confirmations
```

A contract is drafted (version 1) from the agreed offer when the buyer awards a quote. Either side edits a draft
(ship-by date, quality terms, specification; the buyer also picks the shipping address from their address book);
quantity, price and payment plan are the agreed offer's and do not change here. Every edit is a conditional
``UPDATE ... WHERE status = 'draft' AND updated_at = <what the editor saw>`` that also clears both confirmations
(409 ``contract_outdated`` when stale; 409 ``contract_confirmed`` once confirmed: confirmed terms never change).
Each side then confirms; the statement that sets the second confirmation is the one that moves the draft to
``confirmed`` (a ``CASE`` in the same ``UPDATE``), so of two racing confirmations exactly one makes the move and
places the order (``contract_orders.place``). ``updated_at`` is the staleness token of the terms: edits bump it,
confirmations keep it.

An amendment is the next version of the same number, drafted from the contract in force with the proposed
changes, confirmed like a draft; then the version it replaces is ``superseded`` and hands it its seller order.
Quantity and price change by amendment only before any milestone is paid, and only when the order side can
reprice its pending milestones (``contract_orders.reprice``); otherwise 409 ``amendment_needs_new_terms``.

Who may touch a contract is decided by scoped reads: the members of the buyer organisation
(``organization_ids(actor, "org:read")``) and the people of the supplier store (``store_ids(actor,
"store:read")``); anyone else gets the same 404 as for a missing one. Confirming and editing need a writer (the
supplier: ``catalog:write`` on the store).
"""

from __future__ import annotations

import importlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.address.service import AddressNotFound, address_service
from souk.auth.actor import Actor
from souk.authz import get_store_for, organization_ids, require_user, require_writer, store_ids
from souk.checkout.service import address_snapshot
from souk.errors import invalid_field
from souk.kit.clock import utcnow
from souk.kit.money import format_money
from souk.models import Contract, Offer, Quote, Rfq
from souk.notification.service import notification_service
from souk.order.repository import OrderRepository
from souk.trade.sourcing.contract.errors import (
    AmendmentNeedsNewTerms,
    ContractConfirmed,
    ContractNotAllowed,
    ContractNotFound,
    ContractOutdated,
)
from souk.trade.sourcing.contract.repository import ContractRepository
from souk.trade.sourcing.contract.schemas import (
    AmendmentCreate,
    ContractChange,
    ContractConfirm,
    ContractRead,
    ContractSummary,
    ContractUpdate,
    ContractVersionRead,
    Side,
)

BUYER = "buyer"
SUPPLIER = "supplier"
# the seller order of a contract that may still be amended (it has not shipped)
AMENDABLE_ORDER = ("pending_payment", "paid", "awaiting_deposit", "in_production", "awaiting_balance")
# the terms a version history compares
TERMS = (
    "product_specification",
    "quantity",
    "unit_price_amount",
    "goods_amount",
    "shipping_amount",
    "total_amount",
    "ship_by",
    "quality_terms",
    "deposit_amount",
    "balance_amount",
    "shipping_address",
)
# goods amounts beyond this are refused (far inside a BigInteger)
GOODS_MAX = 10**15
ONE_TICK = timedelta(microseconds=1)


# the columns an amendment carries over from the version in force as they are
CARRIED = (
    "number",
    "rfq_id",
    "quote_id",
    "offer_id",
    "buyer_organization_id",
    "buyer_user_id",
    "store_id",
    "unit",
    "currency",
    "incoterm",
    "place",
    "balance_due",
)


def deposit_of(total: int, deposit_bps: int) -> int:
    """``total * deposit_bps / 10000`` rounded half up to a minor unit."""
    return (total * deposit_bps + 5000) // 10000


def money_columns(
    quantity: int, unit_price_amount: int, shipping_amount: int, deposit_bps: int
) -> dict[str, int]:
    """A contract's money columns: the goods, the total with shipping and its payment plan (the deposit rounded
    half up, the balance the rest)."""
    goods = quantity * unit_price_amount
    total = goods + shipping_amount
    deposit = deposit_of(total, deposit_bps)
    return {
        "quantity": quantity,
        "unit_price_amount": unit_price_amount,
        "goods_amount": goods,
        "shipping_amount": shipping_amount,
        "total_amount": total,
        "deposit_bps": deposit_bps,
        "deposit_amount": deposit,
        "balance_amount": total - deposit,
    }


def contract_number(contract_id: int) -> str:
    return f"C-{1000 + contract_id}"


def ship_by_deadline(ship_by: date) -> datetime:
    """The seller order's ship-by deadline for a contract's ship-by date: the end of that day, UTC."""
    return datetime.combine(ship_by, time(23, 59, 59), tzinfo=UTC)


def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency, "en_001")


def _who(side: str) -> str:
    return "The buyer" if side == BUYER else "The supplier"


def _confirmed_by(contract: Contract, side: str) -> bool:
    """Nothing left for ``side`` to confirm: the contract is in force, or this side confirmed the draft."""
    mine = contract.buyer_confirmed_at if side == BUYER else contract.supplier_confirmed_at
    return contract.status == "confirmed" or (contract.status == "draft" and mine is not None)


def _contract_orders() -> Any:
    """The contract-order area's ``contract_orders`` (souk.trade.sourcing.contract.orders), or None."""
    try:
        module = importlib.import_module("souk.trade.sourcing.contract.orders")
    except ModuleNotFoundError:
        return None
    return getattr(module, "contract_orders", None)


def can_reprice() -> bool:
    orders = _contract_orders()
    return orders is not None and callable(getattr(orders, "reprice", None))


def buyer_url(contract: Contract) -> str:
    return f"/contracts/{contract.id}"


def supplier_url(contract: Contract) -> str:
    return f"/seller/stores/{contract.store_id}/contracts/{contract.id}"


def changes_between(before: Contract | None, after: Contract) -> list[ContractChange]:
    if before is None:
        return []
    return [
        ContractChange(field=name, before=getattr(before, name), after=getattr(after, name))
        for name in TERMS
        if getattr(before, name) != getattr(after, name)
    ]


@dataclass
class Access:
    contract: Contract
    side: str


class ContractService:
    # --- drafting (called by the negotiation area when the buyer awards) --------------------------------

    async def draft(
        self, session: AsyncSession, *, rfq: Rfq, quote: Quote, offer: Offer, buyer_user_id: int
    ) -> Contract:
        """Draft version 1 of the contract of an awarded quote from the agreed ``offer``. Flushes, does not
        notify (the caller does)."""
        contract = Contract(
            # a unique placeholder until the id is known
            number=f"P-{uuid.uuid4().hex[:16]}",
            version=1,
            status="draft",
            rfq_id=rfq.id,
            quote_id=quote.id,
            offer_id=offer.id,
            buyer_organization_id=rfq.organization_id,
            buyer_user_id=buyer_user_id,
            store_id=quote.store_id,
            product_specification=f"{rfq.title}\n\n{rfq.requirements}".strip(),
            unit=rfq.unit,
            currency=offer.currency,
            incoterm=offer.incoterm,
            place=offer.place,
            ship_by=utcnow().date() + timedelta(days=offer.lead_time_days),
            quality_terms="",
            balance_due=offer.balance_due,
            shipping_address={},
            **money_columns(
                offer.quantity, offer.unit_price_amount, offer.shipping_amount, offer.deposit_bps
            ),
        )
        session.add(contract)
        await session.flush()
        contract.number = contract_number(contract.id)
        await session.flush()
        return contract

    # --- scope --------------------------------------------------------------------------------------------

    async def access(
        self, session: AsyncSession, actor: Actor, contract_id: int, side: Side | str | None = None
    ) -> Access:
        """The contract and the side the actor acts for (``side``, or the buyer side when they are on both).
        404 when the actor is on neither side (or not on the side asked for)."""
        require_user(actor)
        found = await ContractRepository(session).visible(
            contract_id, organization_ids(actor, "org:read"), store_ids(actor, "store:read")
        )
        if found is None:
            raise ContractNotFound()
        contract, is_buyer, is_supplier = found
        if (side == BUYER and not is_buyer) or (side == SUPPLIER and not is_supplier):
            raise ContractNotFound()
        return Access(contract, side or (BUYER if is_buyer else SUPPLIER))

    async def _writer(self, session: AsyncSession, actor: Actor, access: Access) -> int:
        if access.side == BUYER:
            return require_writer(actor)
        await get_store_for(session, actor, access.contract.store_id, "catalog:write")
        return require_writer(actor)

    # --- reads --------------------------------------------------------------------------------------------

    async def read(self, session: AsyncSession, contract: Contract) -> ContractRead:
        out = ContractRead.model_validate(contract)
        if contract.seller_order_id is not None:
            out.order_id = await ContractRepository(session).order_of(contract.seller_order_id)
        return out

    async def get(
        self, session: AsyncSession, actor: Actor, contract_id: int, side: Side | None = None
    ) -> ContractRead:
        access = await self.access(session, actor, contract_id, side)
        return await self.read(session, access.contract)

    async def versions(
        self, session: AsyncSession, actor: Actor, contract_id: int, side: Side | None = None
    ) -> list[ContractVersionRead]:
        """Every version of the contract's number, oldest first, with what each changed."""
        access = await self.access(session, actor, contract_id, side)
        rows = await ContractRepository(session).versions(access.contract.number)
        out = []
        for i, row in enumerate(rows):
            out.append(
                ContractVersionRead(
                    id=row.id,
                    number=row.number,
                    version=row.version,
                    status=row.status,
                    created_at=row.created_at,
                    confirmed_at=row.confirmed_at,
                    changes=changes_between(rows[i - 1] if i else None, row),
                )
            )
        return out

    async def order_link_contract(self, session: AsyncSession, contract: Contract) -> ContractRead | None:
        """The version that holds the order (the one in force) when ``contract`` is an older or newer version."""
        if contract.seller_order_id is not None:
            return await self.read(session, contract)
        in_force = await ContractRepository(session).in_force(contract.number)
        if in_force is None or in_force.seller_order_id is None:
            return None
        return await self.read(session, in_force)

    def _summaries(self, rows: Any) -> list[ContractSummary]:
        return [
            ContractSummary(
                id=c.id,
                number=c.number,
                version=c.version,
                status=c.status,
                store_id=c.store_id,
                store_name=store_name,
                buyer_organization_id=c.buyer_organization_id,
                buyer_name=buyer_name,
                title=c.product_specification.strip().splitlines()[0][:120]
                if c.product_specification
                else "",
                quantity=c.quantity,
                unit=c.unit,
                currency=c.currency,
                total_amount=c.total_amount,
                ship_by=c.ship_by,
                buyer_confirmed_at=c.buyer_confirmed_at,
                supplier_confirmed_at=c.supplier_confirmed_at,
                has_address=bool(c.shipping_address),
                seller_order_id=c.seller_order_id,
                created_at=c.created_at,
            )
            for c, store_name, buyer_name in rows
        ]

    async def list_for_buyer(self, session: AsyncSession, actor: Actor) -> list[ContractSummary]:
        """The contracts of all the actor's organisations, newest first, each at its newest version."""
        require_user(actor)
        rows = await ContractRepository(session).newest(
            Contract.buyer_organization_id.in_(organization_ids(actor, "org:read"))
        )
        return self._summaries(rows)

    async def list_for_store(
        self, session: AsyncSession, actor: Actor, store_id: int
    ) -> list[ContractSummary]:
        await get_store_for(session, actor, store_id, "store:read")
        rows = await ContractRepository(session).newest(Contract.store_id == store_id)
        return self._summaries(rows)

    # --- editing a draft ----------------------------------------------------------------------------------

    @staticmethod
    def _refuse_unless_draft(
        contract: Contract,
        replaced: str = "This version of the contract was replaced: open the contract in force.",
    ) -> None:
        if contract.status == "confirmed":
            raise ContractConfirmed()
        if contract.status != "draft":
            raise ContractNotAllowed(replaced, code="contract_not_draft")

    def _text_terms(self, payload: ContractUpdate | AmendmentCreate) -> dict[str, Any]:
        """The ship-by date, quality terms and specification sent, checked and trimmed."""
        terms: dict[str, Any] = {}
        if payload.ship_by is not None:
            terms["ship_by"] = self._check_ship_by(payload.ship_by)
        if payload.quality_terms is not None:
            terms["quality_terms"] = payload.quality_terms.strip()
        if payload.product_specification is not None:
            spec = payload.product_specification.strip()
            if not spec:
                raise invalid_field("product_specification", "must not be empty")
            terms["product_specification"] = spec
        return terms

    @staticmethod
    def _check_ship_by(value: date, field: str = "ship_by") -> date:
        if value < utcnow().date():
            raise invalid_field(field, "must be today or later")
        return value

    async def update(
        self, session: AsyncSession, actor: Actor, contract_id: int, payload: ContractUpdate
    ) -> Contract:
        """Edit a draft (the fields sent). Clears both confirmations. 409 ``contract_outdated`` when the draft
        changed since ``based_on_updated_at``; 409 ``contract_confirmed`` once confirmed."""
        access = await self.access(session, actor, contract_id, payload.side)
        contract = access.contract
        await self._writer(session, actor, access)
        self._refuse_unless_draft(contract)
        values = self._text_terms(payload)
        if payload.shipping_address_id is not None:
            if access.side != BUYER:
                raise invalid_field("shipping_address_id", "only the buyer picks the shipping address")
            if contract.version > 1:
                raise invalid_field(
                    "shipping_address_id", "the order's shipping address does not change by amendment"
                )
            try:
                address = await address_service.get(session, actor, payload.shipping_address_id)
            except AddressNotFound:
                raise invalid_field("shipping_address_id", "is not an address in your address book") from None
            values["shipping_address"] = address_snapshot(address)
        values = {k: v for k, v in values.items() if getattr(contract, k) != v}
        if not values:
            if payload.based_on_updated_at != contract.updated_at:
                raise ContractOutdated()
            return contract
        repo = ContractRepository(session)
        bumped = max(utcnow(), contract.updated_at + ONE_TICK)
        if not await repo.edit_draft(contract.id, payload.based_on_updated_at, bumped, values):
            await repo.refresh(contract)
            self._refuse_unless_draft(contract)
            raise ContractOutdated()
        await repo.refresh(contract)
        await self._tell_other_side(
            session,
            contract,
            access.side,
            actor,
            "contract.changed",
            f"Contract {contract.number} was changed",
            "The terms changed: both sides confirm again.",
        )
        return contract

    # --- confirming ---------------------------------------------------------------------------------------

    async def confirm(
        self, session: AsyncSession, actor: Actor, contract_id: int, payload: ContractConfirm | None = None
    ) -> Contract:
        """Confirm the current draft for the actor's side. The second confirmation moves it to ``confirmed`` and
        places the order (version 1) or supersedes the version in force (an amendment). Confirming again is a
        no-op."""
        payload = payload or ContractConfirm()
        access = await self.access(session, actor, contract_id, payload.side)
        contract = access.contract
        user_id = await self._writer(session, actor, access)
        seen = payload.based_on_updated_at
        if seen is not None and contract.status == "draft" and seen != contract.updated_at:
            raise ContractOutdated()
        if _confirmed_by(contract, access.side):
            return contract
        self._refuse_unless_draft(contract)
        if access.side == BUYER and not contract.shipping_address:
            raise invalid_field("shipping_address", "pick a shipping address before confirming")
        repo = ContractRepository(session)
        status = await repo.confirm_side(contract.id, access.side, user_id, utcnow(), seen)
        await repo.refresh(contract)
        if status is None:
            if _confirmed_by(contract, access.side):
                return contract
            self._refuse_unless_draft(contract, "This version of the contract was replaced.")
            raise ContractOutdated()
        if status == "confirmed":
            await self._came_into_force(session, contract)
            await self._tell_both(
                session,
                contract,
                "contract.confirmed",
                f"Contract {contract.number} is confirmed",
                "Both sides confirmed the terms."
                + (" The order is placed." if contract.version == 1 else " The amendment is in force."),
            )
        else:
            await self._tell_other_side(
                session,
                contract,
                access.side,
                actor,
                "contract.confirmation",
                f"{_who(access.side)} confirmed contract {contract.number}",
                "Check the terms and confirm them too.",
            )
        return contract

    async def _came_into_force(self, session: AsyncSession, contract: Contract) -> None:
        repo = ContractRepository(session)
        orders = _contract_orders()
        if contract.version == 1:
            if orders is None:
                raise ContractNotAllowed("Contract orders are not available.", code="contract_orders_missing")
            await orders.place(session, contract)
            await session.flush()
            await repo.refresh(contract)
            return
        versions = await repo.versions(contract.number)
        previous = next(
            (v for v in reversed(versions) if v.status == "confirmed" and v.id != contract.id),
            None,
        )
        if previous is None:
            return
        seller_order_id = previous.seller_order_id
        await repo.supersede(previous.id)
        await repo.refresh(previous)
        if seller_order_id is not None:
            await repo.attach_order(contract.id, seller_order_id)
            await repo.refresh(contract)
            if contract.ship_by != previous.ship_by:
                await repo.set_order_ship_by(seller_order_id, ship_by_deadline(contract.ship_by))
            money_changed = (contract.quantity, contract.unit_price_amount) != (
                previous.quantity,
                previous.unit_price_amount,
            )
            if money_changed:
                if not can_reprice() or await repo.paid_milestones(seller_order_id):
                    raise AmendmentNeedsNewTerms(
                        "A milestone was paid meanwhile: quantity and price can no longer change by amendment.",
                        fields={"quantity": "cannot change now", "unit_price_amount": "cannot change now"},
                    )
                await orders.reprice(session, contract)
        await session.flush()

    # --- amendments ---------------------------------------------------------------------------------------

    async def amend(
        self, session: AsyncSession, actor: Actor, contract_id: int, payload: AmendmentCreate
    ) -> Contract:
        """Propose an amendment to the confirmed contract: the next version (a draft both sides confirm)."""
        access = await self.access(session, actor, contract_id, payload.side)
        current = access.contract
        await self._writer(session, actor, access)
        repo = ContractRepository(session)
        if current.status == "draft":
            raise ContractNotAllowed(
                "This contract is not confirmed yet: edit the draft instead.", code="contract_not_confirmed"
            )
        if current.status != "confirmed":
            raise ContractNotAllowed(
                "This version was replaced: amend the contract in force.", code="contract_not_draft"
            )
        if await repo.open_amendment(current.number) is not None:
            raise ContractNotAllowed(
                "An amendment is already proposed: confirm or change it first.", code="amendment_open"
            )
        so = await repo.seller_order(current.seller_order_id) if current.seller_order_id else None
        if so is not None and so.status not in AMENDABLE_ORDER:
            raise ContractNotAllowed(
                "The order has shipped or is closed: the contract can no longer be amended.",
                code="contract_order_shipped",
            )
        terms = self._text_terms(payload)
        if payload.quantity is not None:
            terms["quantity"] = payload.quantity
        if payload.unit_price_amount is not None:
            terms["unit_price_amount"] = payload.unit_price_amount
        terms = {k: v for k, v in terms.items() if getattr(current, k) != v}
        if not terms:
            raise invalid_field("amendment", "change at least one term")
        money_fields = {"quantity", "unit_price_amount"} & terms.keys()
        if money_fields and so is not None:
            if await repo.paid_milestones(so.id):
                raise AmendmentNeedsNewTerms(
                    "A milestone is paid: quantity and price can no longer change by amendment "
                    "(only the ship-by date, quality terms and specification can).",
                    fields={name: "cannot change once a milestone is paid" for name in sorted(money_fields)},
                )
            if not can_reprice():
                raise AmendmentNeedsNewTerms(
                    "The order exists: quantity and price cannot change by amendment "
                    "(only the ship-by date, quality terms and specification can).",
                    fields={name: "cannot change once the order exists" for name in sorted(money_fields)},
                )
        quantity = terms.get("quantity", current.quantity)
        unit_price = terms.get("unit_price_amount", current.unit_price_amount)
        if quantity * unit_price > GOODS_MAX:
            raise invalid_field("quantity", "quantity times unit price is too large")
        amendment = Contract(
            **{name: getattr(current, name) for name in CARRIED},
            version=await repo.latest_version(current.number) + 1,
            status="draft",
            product_specification=terms.get("product_specification", current.product_specification),
            ship_by=terms.get("ship_by", current.ship_by),
            quality_terms=terms.get("quality_terms", current.quality_terms),
            shipping_address=dict(current.shipping_address),
            **money_columns(quantity, unit_price, current.shipping_amount, current.deposit_bps),
        )
        try:
            async with session.begin_nested():
                session.add(amendment)
                await session.flush()
        except IntegrityError:
            raise ContractNotAllowed(
                "An amendment is already proposed: confirm or change it first.", code="amendment_open"
            ) from None
        await self._tell_other_side(
            session,
            amendment,
            access.side,
            actor,
            "contract.amendment",
            f"{_who(access.side)} proposed an amendment to contract {amendment.number}",
            f"Version {amendment.version}: review and confirm it. "
            f"Total {_money(amendment.total_amount, amendment.currency)}.",
        )
        return amendment

    # --- notifications ------------------------------------------------------------------------------------

    async def _people(self, session: AsyncSession, contract: Contract, side: str) -> list[int]:
        if side == BUYER:
            return [contract.buyer_user_id]
        return await OrderRepository(session).store_people(contract.store_id)

    async def _tell(
        self,
        session: AsyncSession,
        contract: Contract,
        side: str,
        skip: int | None,
        kind: str,
        title: str,
        body: str,
    ) -> None:
        link = buyer_url(contract) if side == BUYER else supplier_url(contract)
        for user_id in await self._people(session, contract, side):
            if user_id != skip:
                await notification_service.notify(session, user_id, kind, title, body=body, link=link)

    async def _tell_other_side(
        self,
        session: AsyncSession,
        contract: Contract,
        side: str,
        actor: Actor,
        kind: str,
        title: str,
        body: str,
    ) -> None:
        other = SUPPLIER if side == BUYER else BUYER
        await self._tell(session, contract, other, actor.user_id, kind, title, body)

    async def _tell_both(
        self, session: AsyncSession, contract: Contract, kind: str, title: str, body: str
    ) -> None:
        for side in (BUYER, SUPPLIER):
            await self._tell(session, contract, side, None, kind, title, body)


contract_service = ContractService()
