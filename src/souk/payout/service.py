"""Payouts: a store takes its available balance out through the payout provider. Flushes, never commits.

``request`` (``store:manage``) checks the amount against the minimum (the store's trade policy's
``min_payout``) and the available balance, records the
payout and posts ``payable:store -> payout_clearing`` in the same transaction, guarded by the ledger's
conditional update so that two payouts at the same moment can never both take the same money; it enqueues
``payout.send``. The job (``settle``) asks the provider to pay and posts ``payout_paid`` (or returns the money to
the store's balance with ``payout_failed``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import ROLE_PERMISSIONS, get_store_for, require_user, store_ids, store_role
from souk.config import Settings, get_settings
from souk.db import dialect_of
from souk.errors import invalid_field
from souk.kit.clock import utcnow
from souk.kit.money import Money, is_currency
from souk.kit.pagination import clamp_limit, decode_cursor, encode_cursor
from souk.ledger import accounts, postings
from souk.ledger.errors import AccountOverdrawn
from souk.ledger.service import ledger_service
from souk.models import Payout, Store
from souk.payout.errors import PayoutAboveAvailable, PayoutBelowMinimum, PayoutKeyReused, PayoutNotFound
from souk.payout.provider import PayoutProvider, SimulatedPayoutProvider
from souk.trade.policy import get_policy
from souk.worker.queue import enqueue

PROVIDERS = {"simulated": SimulatedPayoutProvider}
SEND_JOB = "payout.send"


@dataclass
class PayoutPage:
    items: list[Payout]
    next_cursor: str | None


def _fingerprint(currency: str, amount: int | None) -> str:
    return hashlib.sha256(f"{currency}:{'all' if amount is None else amount}".encode()).hexdigest()


def entry_key(payout_id: int, step: str) -> str:
    """The ledger idempotency key of a payout's entries: step is requested, paid or failed."""
    return f"payout:{payout_id}:{step}"


class PayoutService:
    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._provider: PayoutProvider | None = None

    def configure(self, settings: Settings) -> None:
        self._settings = settings

    @property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    def use_provider(self, provider: PayoutProvider | None) -> None:
        """Replace the configured provider (an adapter under test); None goes back to the setting."""
        self._provider = provider

    @property
    def provider(self) -> PayoutProvider:
        if self._provider is None:
            self._provider = PROVIDERS[self.settings.payout_provider]()
        return self._provider

    def minimum(self, store: Store, currency: str) -> int:
        """The smallest payout of ``store`` in ``currency`` (minor units): its trade policy's ``min_payout``."""
        return get_policy(store.trade_model).min_payout_amount(currency)

    # --- requesting -------------------------------------------------------------------------------------

    async def request(
        self,
        session: AsyncSession,
        actor: Actor,
        store_id: int,
        currency: str,
        amount: int | None = None,
        *,
        idempotency_key: str,
    ) -> Payout:
        """Pay out ``amount`` (minor units; None: the whole available balance) of the store's ``currency``
        balance. The same key with the same request returns the same payout; with another request it raises
        ``PayoutKeyReused`` (422)."""
        store = await get_store_for(session, actor, store_id, "store:manage")
        if not is_currency(currency):
            raise invalid_field("currency", "is not a currency the marketplace accepts")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0):
            raise invalid_field("amount", "must be a positive amount")
        if not 1 <= len(idempotency_key) <= 200:
            raise invalid_field("Idempotency-Key", "must be 1 to 200 characters")
        fingerprint = _fingerprint(currency, amount)
        existing = await self._by_key(session, store.id, idempotency_key)
        if existing is not None:
            return self._same(existing, fingerprint)

        payable = accounts.payable(store.id)
        available = await ledger_service.balance(session, payable, currency)
        wanted = available if amount is None else amount
        minimum = self.minimum(store, currency)
        if amount is None and available < minimum:
            if available <= 0:
                raise PayoutAboveAvailable(available, currency)
            raise PayoutBelowMinimum(minimum, currency)
        if wanted < minimum:
            raise PayoutBelowMinimum(minimum, currency)
        if wanted > available:
            raise PayoutAboveAvailable(available, currency)

        now = utcnow()
        insert = sqlite_insert if dialect_of(session) == "sqlite" else pg_insert
        try:
            async with session.begin_nested():
                payout_id = (
                    await session.execute(
                        insert(Payout)
                        .values(
                            store_id=store.id,
                            amount=wanted,
                            currency=currency,
                            status="requested",
                            provider=self.provider.name,
                            requested_by_id=actor.user_id,
                            idempotency_key=idempotency_key,
                            request_fingerprint=fingerprint,
                            created_at=now,
                            updated_at=now,
                        )
                        .on_conflict_do_nothing(index_elements=["store_id", "idempotency_key"])
                        .returning(Payout.id)
                    )
                ).scalar()
                if payout_id is None:
                    # a concurrent request with this key committed first
                    taken = await self._by_key(session, store.id, idempotency_key)
                    assert taken is not None
                    return self._same(taken, fingerprint)
                await ledger_service.post(
                    session,
                    key=entry_key(payout_id, "requested"),
                    kind="payout",
                    postings=postings.payout(store.id, Money(wanted, currency)),
                    reference=("payout", payout_id),
                    memo=f"Payout #{payout_id}",
                    # the store's balance pays for it: refused if another payout took the money meanwhile
                    no_overdraft=(payable,),
                )
                await enqueue(
                    session, SEND_JOB, {"payout_id": payout_id}, dedupe_key=f"payout-send:{payout_id}"
                )
        except AccountOverdrawn as exc:
            raise PayoutAboveAvailable(max(exc.balance, 0), currency) from exc
        payout = await session.get(Payout, payout_id)
        assert payout is not None
        return payout

    async def _by_key(self, session: AsyncSession, store_id: int, key: str) -> Payout | None:
        payout: Payout | None = await session.scalar(
            select(Payout).where(Payout.store_id == store_id, Payout.idempotency_key == key)
        )
        return payout

    def _same(self, payout: Payout, fingerprint: str) -> Payout:
        if payout.request_fingerprint != fingerprint:
            raise PayoutKeyReused()
        return payout

    async def can_request(self, session: AsyncSession, actor: Actor, store: Store) -> bool:
        """Whether the actor's role on ``store`` allows payouts (``store:manage``): pages show the form then."""
        role = await store_role(session, actor, store)
        return role is not None and "store:manage" in ROLE_PERMISSIONS[role] and actor.can_write()

    # --- reading ------------------------------------------------------------------------------------------

    async def get(self, session: AsyncSession, actor: Actor, payout_id: int) -> Payout:
        """A payout of one of the actor's stores (else 404; 401 without a user)."""
        require_user(actor)
        payout: Payout | None = await session.scalar(
            select(Payout).where(Payout.id == payout_id, Payout.store_id.in_(store_ids(actor, "store:read")))
        )
        if payout is None:
            raise PayoutNotFound()
        return payout

    async def list(
        self,
        session: AsyncSession,
        actor: Actor,
        store_id: int,
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> PayoutPage:
        """The store's payouts, newest first."""
        store = await get_store_for(session, actor, store_id, "store:read")
        size = clamp_limit(limit)
        values = decode_cursor(cursor)
        stmt = select(Payout).where(Payout.store_id == store.id)
        if values is not None:
            if len(values) != 1 or isinstance(values[0], bool) or not isinstance(values[0], int):
                raise invalid_field("cursor", "is not a cursor this API issued")
            stmt = stmt.where(Payout.id < values[0])
        rows = list((await session.scalars(stmt.order_by(Payout.id.desc()).limit(size + 1))).all())
        next_cursor = None
        if len(rows) > size:
            rows = rows[:size]
            next_cursor = encode_cursor([rows[-1].id])
        return PayoutPage(rows, next_cursor)

    async def in_transit(self, session: AsyncSession, store_id: int) -> dict[str, int]:
        """Per currency, payouts requested and not paid yet (for callers that authorised the actor)."""
        rows = await session.execute(
            select(Payout.currency, func.sum(Payout.amount))
            .where(Payout.store_id == store_id, Payout.status == "requested")
            .group_by(Payout.currency)
        )
        return {r[0]: int(r[1] or 0) for r in rows}

    # --- the job --------------------------------------------------------------------------------------------

    async def settle(self, session: AsyncSession, payout_id: int) -> Payout | None:
        """Have the provider pay a requested payout, then mark it paid (``payout_paid`` posted) or failed (the
        money returns to the store's balance). A payout already settled is left alone (idempotent)."""
        payout: Payout | None = await session.scalar(
            select(Payout).where(Payout.id == payout_id).with_for_update()
        )
        if payout is None or payout.status != "requested":
            return payout
        transfer = await self.provider.send(
            session,
            amount=payout.amount,
            currency=payout.currency,
            destination=f"store:{payout.store_id}",
            idempotency_key=f"payout:{payout.id}",
        )
        now = utcnow()
        money = Money(payout.amount, payout.currency)
        status = "paid" if transfer.status == "paid" else "failed"
        changed = await session.execute(
            update(Payout)
            .where(Payout.id == payout.id, Payout.status == "requested")
            .values(
                status=status,
                provider_reference=transfer.id,
                failure_reason=(transfer.failure_reason or "The payout provider refused the transfer.")[:300]
                if status == "failed"
                else None,
                paid_at=now if status == "paid" else None,
                updated_at=now,
            )
            .execution_options(synchronize_session="fetch")
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return payout
        if status == "paid":
            await ledger_service.post(
                session,
                key=entry_key(payout.id, "paid"),
                kind="payout_paid",
                postings=postings.payout_paid(money),
                reference=("payout", payout.id),
                memo=f"Payout #{payout.id} paid ({transfer.id})",
            )
        else:
            await ledger_service.post(
                session,
                key=entry_key(payout.id, "failed"),
                kind="payout_failed",
                postings=postings.payout_failed(payout.store_id, money),
                reference=("payout", payout.id),
                memo=f"Payout #{payout.id} failed: returned to the balance",
            )
        await session.refresh(payout)
        return payout


payout_service = PayoutService()
