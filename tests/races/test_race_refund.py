"""Refunds never add up to more than was captured: a paid order of 10.00; 200 refund requests of 4.00 at the
same moment (one open request at a time: exactly one is opened), then 100 acceptances of it by the store and
100 cancellations of the order by the buyer at the same moment, over several server processes. Whatever the
order they run in, the refunds sum to at most the captured 10.00 (4.00 then the 6.00 left, or the full 10.00
with the request left unpaid), each paid once, and the ledger agrees."""

from __future__ import annotations

from race_kit import (
    POOL_SIZE,
    PROCESSES,
    Call,
    N,
    Stopwatch,
    assert_audit_clean,
    expect,
    fire,
    iterations,
    key,
    new_buyers,
    open_shop,
    paid_seller_order,
)
from sqlalchemy import func, select

from fixtures.servers import OpenServers
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import Dispute, Payment, PaymentRefund

PRICE = 1000
ASKED = 400


async def test_refund_requests_and_cancellations_never_refund_more_than_captured(
    souk_servers: OpenServers,
) -> None:
    async with souk_servers("race_refund", processes=PROCESSES, pool_size=POOL_SIZE) as servers:
        shop = await open_shop(servers, "refund")
        (buyer,) = await new_buyers(servers, 1)
        watch = Stopwatch("refund")
        outcomes: list[int] = []
        for _ in range(iterations()):
            order_id, so_id = await paid_seller_order(servers, shop, buyer, PRICE)
            body = {"seller_order_id": so_id, "reason": "damaged", "amount": ASKED, "message": "Cracked."}
            answers = await fire(
                servers,
                [
                    Call("POST", "/api/v1/disputes", {**buyer.headers, "Idempotency-Key": key()}, body)
                    for _ in range(N)
                ],
            )
            (opened,) = expect(answers, successes=1, ok_status=201, refusals={409: {"dispute_already_open"}})
            dispute_id = opened.json()["id"]
            accept = Call("POST", f"/api/v1/disputes/{dispute_id}/accept")
            cancel = Call("POST", f"/api/v1/orders/{order_id}/seller-orders/{so_id}/cancel")
            calls = [
                Call(c.method, c.url, {**h, "Idempotency-Key": key()})
                for _ in range(N // 2)
                for c, h in ((accept, shop.owner_headers), (cancel, buyer.headers))
            ]
            answers = await fire(servers, calls)
            expect(
                answers,
                successes=range(1, N + 1),
                ok_status=200,
                # an acceptance after the cancellation: the escrow is empty, the ledger refuses to pay twice
                refusals={409: {"dispute_not_allowed", "transition_not_allowed", "account_overdrawn"}},
            )
            async with servers.maker() as s:
                captured, refunded_amount = (
                    await s.execute(
                        select(Payment.amount, Payment.refunded_amount).where(Payment.order_id == order_id)
                    )
                ).one()
                refunds = list(
                    (
                        await s.scalars(
                            select(PaymentRefund.amount)
                            .join(Payment, Payment.id == PaymentRefund.payment_id)
                            .where(Payment.order_id == order_id)
                            .order_by(PaymentRefund.id)
                        )
                    ).all()
                )
                dispute = await s.scalar(select(Dispute).where(Dispute.id == dispute_id))
                escrow = await ledger_service.balance(s, accounts.escrow(shop.store_id, so_id), "USD")
                disputes = await s.scalar(
                    select(func.count()).select_from(Dispute).where(Dispute.seller_order_id == so_id)
                )
            assert captured == PRICE and disputes == 1
            assert sum(refunds) == refunded_amount <= captured
            assert refunds in ([ASKED, PRICE - ASKED], [PRICE]), refunds
            assert escrow == PRICE - refunded_amount
            assert dispute is not None
            if refunds[0] == ASKED:
                assert dispute.outcome in ("refund_partial", "refund_full"), dispute.outcome
            outcomes.append(len(refunds))
            await assert_audit_clean(servers)
            watch.lap()
        print(watch.report(), "refunds per iteration:", outcomes)


async def test_cancel_after_a_partial_refund_refunds_what_is_left(souk_servers: OpenServers) -> None:
    """The order's cancellation refunded its whole total even after a partial refund, which the ledger refused
    (409 ``account_overdrawn``): the buyer could never cancel. It refunds what the escrow still holds."""
    async with souk_servers("refund_then_cancel", processes=1) as servers:
        shop = await open_shop(servers, "partial")
        (buyer,) = await new_buyers(servers, 1)
        order_id, so_id = await paid_seller_order(servers, shop, buyer, PRICE)
        async with servers.client() as client:
            body = {"seller_order_id": so_id, "reason": "damaged", "amount": ASKED, "message": "Cracked."}
            r = await client.post(
                "/api/v1/disputes", json=body, headers={**buyer.headers, "Idempotency-Key": key()}
            )
            assert r.status_code == 201, r.text
            r = await client.post(
                f"/api/v1/disputes/{r.json()['id']}/accept",
                headers={**shop.owner_headers, "Idempotency-Key": key()},
            )
            assert r.status_code == 200, r.text
            r = await client.post(
                f"/api/v1/orders/{order_id}/seller-orders/{so_id}/cancel",
                headers={**buyer.headers, "Idempotency-Key": key()},
            )
            assert r.status_code == 200, r.text
        async with servers.maker() as s:
            refunds = list(
                (
                    await s.scalars(
                        select(PaymentRefund.amount)
                        .join(Payment, Payment.id == PaymentRefund.payment_id)
                        .where(Payment.order_id == order_id)
                        .order_by(PaymentRefund.id)
                    )
                ).all()
            )
            escrow = await ledger_service.balance(s, accounts.escrow(shop.store_id, so_id), "USD")
        assert (refunds, escrow) == ([ASKED, PRICE - ASKED], 0)
        await assert_audit_clean(servers)
