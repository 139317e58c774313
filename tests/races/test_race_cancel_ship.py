"""Cancel against ship: a paid order; 100 buyer cancellations and 100 shipments by the store at the same moment,
over several server processes: exactly one of the two happens. Either every cancellation answers 200 (the
later ones see it cancelled) and every shipment a clear 409, or the other way round; a cancelled order is
refunded once and in full, a shipped one not at all."""

from __future__ import annotations

from race_kit import (
    POOL_SIZE,
    PROCESSES,
    Call,
    N,
    Stopwatch,
    assert_audit_clean,
    describe,
    fire,
    iterations,
    key,
    new_buyers,
    open_shop,
    paid_seller_order,
)
from sqlalchemy import func, select

from fixtures.servers import OpenServers
from souk.models import Payment, PaymentRefund, SellerOrder, Shipment

PRICE = 1000


async def test_100_cancels_and_100_shipments_one_wins(souk_servers: OpenServers) -> None:
    async with souk_servers("race_cancel_ship", processes=PROCESSES, pool_size=POOL_SIZE) as servers:
        shop = await open_shop(servers, "cancelship")
        (buyer,) = await new_buyers(servers, 1)
        watch = Stopwatch("cancel vs ship")
        winners: list[str] = []
        for _ in range(iterations()):
            order_id, so_id = await paid_seller_order(servers, shop, buyer, PRICE)
            cancel = Call("POST", f"/api/v1/orders/{order_id}/seller-orders/{so_id}/cancel")
            ship = Call(
                "POST",
                f"/api/v1/stores/{shop.store_id}/orders/{so_id}/ship",
                json={"carrier": "DHL", "tracking_number": "JD0146000062"},
            )
            calls = [
                Call(c.method, c.url, {**h, "Idempotency-Key": key()}, c.json)
                for _ in range(N // 2)
                for c, h in ((cancel, buyer.headers), (ship, shop.owner_headers))
            ]
            answers = await fire(servers, calls)
            broken = [describe(a) for a in answers if not hasattr(a, "status_code") or a.status_code >= 500]
            assert not broken, broken[:3]
            cancels = [a.status_code for a in answers[0::2]]  # type: ignore[union-attr]
            ships = [a.status_code for a in answers[1::2]]  # type: ignore[union-attr]
            refused = {a.json()["error"] for a in answers if a.status_code == 409}  # type: ignore[union-attr]
            assert refused <= {"transition_not_allowed"}, refused
            async with servers.maker() as s:
                status = await s.scalar(select(SellerOrder.status).where(SellerOrder.id == so_id))
                refunds, refunded = (
                    await s.execute(
                        select(func.count(), func.coalesce(func.sum(PaymentRefund.amount), 0))
                        .join(Payment, Payment.id == PaymentRefund.payment_id)
                        .where(Payment.order_id == order_id)
                    )
                ).one()
                shipments = await s.scalar(
                    select(func.count()).select_from(Shipment).where(Shipment.seller_order_id == so_id)
                )
            if status == "cancelled":
                assert (cancels, ships) == ([200] * (N // 2), [409] * (N // 2))
                assert (refunds, refunded, shipments) == (1, PRICE, 0)
            else:
                assert status == "shipped"
                assert (cancels, ships) == ([409] * (N // 2), [200] * (N // 2))
                assert (refunds, refunded, shipments) == (0, 0, 1)
            winners.append(status)
            await assert_audit_clean(servers)
            watch.lap()
        print(watch.report(), "winners:", winners)
