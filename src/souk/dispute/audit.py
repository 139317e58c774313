"""Dispute invariants for ``souk audit``:

- ``dispute.refunds_match_ledger``: for every seller order with a resolved dispute, what its disputes refunded
  equals the ledger's ``refund`` entries of those disputes (keys ``so:<id>:refund:dispute-<dispute id>``).

Like the other domains' audits it reads the tables with its own statements, not through ``DisputeRepository``
(which holds the SQL of the service, the queries and the timers): a check does not share the code it checks.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.audit import MAX_REPORTED, capped, check
from souk.ledger import accounts
from souk.models import Dispute, LedgerEntry, LedgerPosting, SellerOrder


@check("dispute.refunds_match_ledger")
async def refunds_match_ledger(session: AsyncSession) -> list[str]:
    refunded = dict(
        (
            await session.execute(
                select(Dispute.seller_order_id, func.sum(func.coalesce(Dispute.resolved_amount, 0)))
                .where(Dispute.status == "resolved")
                .group_by(Dispute.seller_order_id)
            )
        ).all()
    )
    if not refunded:
        return []
    posted = dict(
        (
            await session.execute(
                select(LedgerEntry.reference_id, func.sum(LedgerPosting.amount))
                .join(LedgerPosting, LedgerPosting.entry_id == LedgerEntry.id)
                .where(
                    LedgerEntry.kind == "refund",
                    LedgerEntry.reference_type == "seller_order",
                    LedgerEntry.idempotency_key.like("so:%:refund:dispute-%"),
                    LedgerPosting.account == accounts.PSP_CLEARING,
                    LedgerEntry.reference_id.in_(list(refunded)),
                )
                .group_by(LedgerEntry.reference_id)
            )
        ).all()
    )
    numbers = dict(
        (
            await session.execute(
                select(SellerOrder.id, SellerOrder.number).where(SellerOrder.id.in_(list(refunded)))
            )
        ).all()
    )
    found = []
    for so_id in sorted(refunded):
        want, got = int(refunded[so_id] or 0), int(posted.get(so_id) or 0)
        if want != got:
            found.append(
                f"{numbers.get(so_id, so_id)}: its disputes refunded {want} but the ledger's dispute refunds "
                f"total {got}"
            )
        if len(found) > MAX_REPORTED:
            break
    return capped(found)
