"""The raw-SQL limit of the checkout scenario: exactly the writes one full checkout makes, nothing else.

``python -m bench.sql_trace --worker`` prints the SQL Souk runs for one full checkout. This module replays
its INSERT/UPDATE/DELETE set, transaction by transaction, with the same durability (PostgreSQL
``synchronous_commit=on``; SQLite WAL with ``synchronous=FULL``), on the scenario's database after Souk's load
(same tables, indexes, constraints and triggers, same size):

- one transaction per cart line (``POST /api/v1/cart/items``): the buyer's cart on its first line, the line,
  the cart's ``updated_at``;
- checkout step 1 (place): the Idempotency-Key claim, the order, per store the seller order, its "placed"
  event, its lines and its number, the conditional stock reservations in SKU order (``UPDATE ... WHERE
  on_hand - reserved >= :q RETURNING``, refused when short) and their movements, the simulated provider's
  intent, the payment, the order's payment id;
- step 2 (charge): the payment claimed (conditional), the intent charged, the webhook job queued, the card;
- step 3 (settle): the key's stored answer (the order as JSON, about 2-4 KB);
- the worker claiming the webhook job;
- the webhook job: the event recorded, the payment succeeded, the order paid, per seller order: paid, its
  ledger entry with the escrow's cached balance (insert-if-missing, then update) and two postings, per line
  the stock sold (conditional) and its movement, the store's notification, the "paid" event; then the bought
  cart lines deleted, the cart's time, the event applied, the job done.

A buyer's cart exists after its first checkout (Souk keeps it, empty), so from the second checkout of a raw
buyer on there is one INSERT fewer than in Souk's runs, where every buyer is new.

The reads Souk makes to decide what to write are left out (the values come from the catalog the loader wrote),
except where a write needs a value only the database has (``RETURNING id``), and the conditional stock updates
keep their condition and their row-count check, as correctness requires.

PostgreSQL: asyncpg, one connection per virtual user (``--concurrency`` of them), transactions interleave.
SQLite: sqlite3, one connection per virtual user in one thread; each transaction runs from ``BEGIN
IMMEDIATE`` to ``COMMIT`` without yielding, so they never wait on the file lock (SQLite has one writer at a
time anyway): this is the most the file takes.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bench.harness import BenchDatabase, LoadResult, measuring_window

if TYPE_CHECKING:
    from bench.scenarios.checkout import Catalog

_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


class StockShort(Exception):
    pass


class Tx:
    """One transaction's statements with ``:name`` parameters, on either database."""

    async def run(self, sql: str, **params: Any) -> int:
        """Execute; the row count."""
        raise NotImplementedError

    async def value(self, sql: str, **params: Any) -> Any:
        """Execute a statement with RETURNING; its first column."""
        raise NotImplementedError

    def ts(self, value: datetime) -> Any:
        raise NotImplementedError


class SqliteTx(Tx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def run(self, sql: str, **params: Any) -> int:
        return self.conn.execute(sql, params).rowcount

    async def value(self, sql: str, **params: Any) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def ts(self, value: datetime) -> Any:
        # how SQLAlchemy stores DateTime on SQLite
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class PgTx(Tx):
    _cache: dict[str, tuple[str, list[str]]] = {}

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    @classmethod
    def _convert(cls, sql: str) -> tuple[str, list[str]]:
        found = cls._cache.get(sql)
        if found is None:
            names: list[str] = []

            def number(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in names:
                    names.append(name)
                return f"${names.index(name) + 1}"

            found = cls._cache[sql] = (_PARAM.sub(number, sql), names)
        return found

    async def run(self, sql: str, **params: Any) -> int:
        query, names = self._convert(sql)
        status = await self.conn.execute(query, *(params[n] for n in names))
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def value(self, sql: str, **params: Any) -> Any:
        query, names = self._convert(sql)
        return await self.conn.fetchval(query, *(params[n] for n in names))

    def ts(self, value: datetime) -> Any:
        return value


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# --- one full checkout -------------------------------------------------------------------------------------


@dataclass
class RawBuyer:
    user_id: int
    address_id: int
    cart_id: int | None = None


@dataclass
class Checkout:
    """What one checkout carries from one transaction to the next."""

    buyer: RawBuyer
    plan: list[tuple[int, list[tuple[int, int]]]]
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    ids: dict[str, Any] = field(default_factory=dict)


Step = Callable[[Tx, "Catalog", Checkout], Any]


# --- the driver ----------------------------------------------------------------------------------------


async def raw_checkouts(
    db: BenchDatabase,
    catalog: Catalog,
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    max_operations: int,
    seed: int,
) -> LoadResult:
    """Full checkouts as raw SQL at ``concurrency``, measured like the HTTP driver measures Souk."""
    carts = await _cart_ids(db)
    buyers = [RawBuyer(b.user_id, b.address_id, carts.get(b.user_id)) for b in catalog.buyers]
    result, window_start, deadline = measuring_window(warmup_s, duration_s)
    issued = [0]

    async def user(index: int, make_tx: Callable[[], Any]) -> None:
        rng = random.Random(seed * 100_003 + index)
        # each virtual user has its own buyers, so two never write one cart at the same time
        mine = buyers[index::concurrency]
        turn = 0
        while time.perf_counter() < deadline and issued[0] < max_operations:
            issued[0] += 1
            buyer = mine[turn % len(mine)]
            turn += 1
            checkout = Checkout(buyer, catalog.plan(rng))
            t0 = time.perf_counter()
            try:
                for _name, step in transactions(checkout.plan):
                    await make_tx(step, catalog, checkout)
                    result.requests += 1
            except Exception as exc:
                result.errors += 1
                if len(result.error_samples) < 10:
                    result.error_samples.append(f"{type(exc).__name__}: {exc}"[:500])
                continue
            t1 = time.perf_counter()
            result.completed_total += 1
            if window_start <= t1 <= deadline:
                result.completed += 1
                result.latency.samples_ms.append((t1 - t0) * 1000)

    if db.kind == "postgres":
        import asyncpg

        conns = [await asyncpg.connect(db.asyncpg_dsn) for _ in range(concurrency)]
        try:
            for conn in conns:
                await conn.execute("SET synchronous_commit = on")

            def pg_runner(conn: Any) -> Callable[..., Any]:
                async def run(step: Step, cat: Catalog, checkout: Checkout) -> None:
                    async with conn.transaction():
                        await step(PgTx(conn), cat, checkout)

                return run

            await asyncio.gather(*(user(i, pg_runner(conns[i])) for i in range(concurrency)))
        finally:
            for conn in conns:
                await conn.close()
    else:
        lite = [_sqlite_connect(db) for _ in range(concurrency)]
        try:

            def sqlite_runner(conn: sqlite3.Connection) -> Callable[..., Any]:
                async def run(step: Step, cat: Catalog, checkout: Checkout) -> None:
                    await asyncio.sleep(0)  # let the other users take turns between transactions
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        await step(SqliteTx(conn), cat, checkout)
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
                    conn.execute("COMMIT")

                return run

            await asyncio.gather(*(user(i, sqlite_runner(lite[i])) for i in range(concurrency)))
        finally:
            for conn in lite:
                conn.close()
    return result


async def _cart_ids(db: BenchDatabase) -> dict[int, int]:
    """The carts Souk's load left (its buyers keep theirs): {user_id: cart id}."""
    if db.kind == "postgres":
        import asyncpg

        conn = await asyncpg.connect(db.asyncpg_dsn)
        try:
            rows = await conn.fetch("SELECT user_id, id FROM carts WHERE user_id IS NOT NULL")
        finally:
            await conn.close()
        return {int(r[0]): int(r[1]) for r in rows}
    with sqlite3.connect(db.sqlite_path) as lite:
        return {
            int(u): int(i) for u, i in lite.execute("SELECT user_id, id FROM carts WHERE user_id IS NOT NULL")
        }


def _sqlite_connect(db: BenchDatabase) -> sqlite3.Connection:
    conn = sqlite3.connect(db.sqlite_path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


# --- the transactions (as ``python -m bench.sql_trace --worker`` shows them) -------------------------------

POLICY_SNAPSHOT = _json(
    {
        "model": "market",
        "seller_verification_required": False,
        "commission_bps": 200,
        "unpaid_close_minutes": 30,
        "ship_by_days": 3,
        "auto_confirm_days_express": 10,
        "auto_confirm_days_surface": 30,
        "receipt_extensions_allowed": 1,
        "receipt_extension_days": 3,
        "receipt_extension_window_days": 3,
        "refund_response_days": 5,
        "refund_default_outcome": "refund",
        "escalation_window_days": 7,
        "escalation_default": "escalate",
        "claim_window_days": 15,
        "review_window_days": 15,
        "min_payout": "10",
        "credit_levels": [[0, "New seller"], [4, "1 heart"], [11, "2 hearts"], [41, "3 hearts"]]
        + [[91 * 2**i, f"level {i}"] for i in range(17)],
        "return_ship_days": 7,
        "rfq_quote_cap": 10,
        "quote_quota_per_month": 20,
        "quote_revisions_allowed": 1,
        "rfq_max_open_days": 60,
        "default_deposit_bps": 3000,
        "claim_response_days": 3,
        "claim_auto_escalate_days": 7,
    }
)
OFFSET = 1000
WORKER_NAME = "raw:1:bench"


def _address(buyer: RawBuyer) -> dict[str, str]:
    return {
        "full_name": f"Bench buyer {buyer.user_id}",
        "phone": "+1 555 0100",
        "line1": f"{buyer.user_id} Market Street",
        "line2": "",
        "city": "San Francisco",
        "region": "CA",
        "postal_code": "94103",
        "country": "US",
    }


async def add_to_cart(tx: Tx, catalog: Catalog, co: Checkout, sku: int, qty: int) -> None:
    """``POST /api/v1/cart/items``: the cart (a new buyer's first line), the line, the cart's time."""
    now = tx.ts(datetime.now(UTC))
    if co.buyer.cart_id is None:
        co.buyer.cart_id = await tx.value(
            "INSERT INTO carts (user_id, guest_token_hash, created_at, updated_at) "
            "VALUES (:user_id, NULL, :now, :now) RETURNING id",
            user_id=co.buyer.user_id,
            now=now,
        )
    await tx.value(
        "INSERT INTO cart_lines (cart_id, sku_id, quantity, unit_price_amount, currency, added_at, is_sample) "
        "VALUES (:cart_id, :sku_id, :quantity, :price, 'USD', :now, :sample) RETURNING id",
        cart_id=co.buyer.cart_id,
        sku_id=sku,
        quantity=qty,
        price=catalog.price(sku),
        now=now,
        sample=False,
    )
    await tx.run("UPDATE carts SET updated_at = :now WHERE id = :id", now=now, id=co.buyer.cart_id)


def _cart_steps(plan: list[tuple[int, list[tuple[int, int]]]]) -> list[tuple[int, int]]:
    return [line for _store, lines in plan for line in lines]


async def place(tx: Tx, catalog: Catalog, co: Checkout) -> None:
    """Step 1 of ``POST /api/v1/checkouts``: the key's claim, the order, its seller orders, events and lines,
    the stock reservations (conditional, in SKU order) with their movements, the intent and the payment."""
    now_dt = datetime.now(UTC)
    now = tx.ts(now_dt)
    user_id = co.buyer.user_id
    co.ids["key"] = await tx.value(
        'INSERT INTO idempotency_keys (user_id, "key", method, path, request_hash, status, locked_until, '
        "response_status, created_at, completed_at, expires_at) VALUES (:user_id, :key, 'POST', "
        "'/api/v1/checkouts', :hash, 'in_progress', :locked, NULL, :now, NULL, :expires) RETURNING id",
        user_id=user_id,
        key=co.key,
        hash=uuid.uuid4().hex + uuid.uuid4().hex,
        locked=tx.ts(now_dt + timedelta(minutes=5)),
        now=now,
        expires=tx.ts(now_dt + timedelta(hours=24)),
    )
    stores = []
    for store, lines in co.plan:
        items = sum(catalog.price(sku) * qty for sku, qty in lines)
        stores.append((store, lines, items, items + 499))
    total = sum(s[3] for s in stores)
    co.ids["total"] = total
    pay_by = tx.ts(now_dt + timedelta(minutes=30))
    order_id = await tx.value(
        "INSERT INTO orders (buyer_id, currency, status, items_amount, shipping_amount, total_amount, "
        "shipping_address, checkout_token, payment_id, pay_by, paid_at, closed_at, created_at, updated_at) "
        "VALUES (:buyer, 'USD', 'pending_payment', :items, :shipping, :total, :address, :token, NULL, :pay_by, "
        "NULL, NULL, :now, :now) RETURNING id",
        buyer=user_id,
        items=sum(s[2] for s in stores),
        shipping=499 * len(stores),
        total=total,
        address=_json(_address(co.buyer)),
        token=f"api:{co.key}",
        pay_by=pay_by,
        now=now,
    )
    co.ids["order"] = order_id
    seller_orders = []
    for store, lines, items, store_total in stores:
        so_id = await tx.value(
            "INSERT INTO seller_orders (order_id, store_id, buyer_id, number, status, currency, items_amount, "
            "shipping_amount, total_amount, trade_model, commission_bps, ship_by_days, auto_confirm_days, "
            "receipt_extension_days, receipt_extension_window_days, receipt_extensions_allowed, policy_snapshot, "
            "shipping_method_id, shipping_method_name, shipping_kind, shipping_price_amount, "
            "shipping_free_over_amount, pay_by, ship_by, auto_confirm_at, auto_confirm_remaining_seconds, "
            "receipt_extensions_used, seller_late_at, paid_at, shipped_at, delivered_at, completed_at, "
            "cancelled_at, cancel_reason, created_at, updated_at) VALUES (:order_id, :store, :buyer, NULL, "
            "'pending_payment', 'USD', :items, 499, :total, 'market', 200, 3, 30, 3, 3, 1, :policy, :store, "
            "'Standard', 'surface', 499, NULL, :pay_by, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, "
            "NULL, :now, :now) RETURNING id",
            order_id=order_id,
            store=store,
            buyer=user_id,
            items=items,
            total=store_total,
            policy=POLICY_SNAPSHOT,
            pay_by=pay_by,
            now=now,
        )
        seller_orders.append((so_id, store, lines, store_total))
        await tx.run(
            "INSERT INTO order_events (seller_order_id, kind, actor_id, actor_role, data, created_at) "
            "VALUES (:so, 'placed', :buyer, 'buyer', :data, :now)",
            so=so_id,
            buyer=user_id,
            data=_json({"total_amount": store_total}),
            now=now,
        )
        for sku, qty in lines:
            product = (sku - 1) // 2 + 1
            await tx.run(
                "INSERT INTO order_lines (seller_order_id, sku_id, product_id, is_sample, title, sku_code, "
                "options, unit_price_amount, quantity, line_total_amount, currency) VALUES (:so, :sku, "
                ":product, :sample, :title, :code, :options, :price, :qty, :line_total, 'USD')",
                so=so_id,
                sku=sku,
                product=product,
                sample=False,
                title=f"Bench product {product}",
                code=f"B{sku}",
                options=_json({"Size": "S" if sku % 2 else "M"}),
                price=catalog.price(sku),
                qty=qty,
                line_total=catalog.price(sku) * qty,
            )
        await tx.run(
            "UPDATE seller_orders SET number = :number, updated_at = :now WHERE id = :id",
            number=f"SO-{so_id + OFFSET}",
            now=now,
            id=so_id,
        )
    co.ids["seller_orders"] = seller_orders
    lines_in_order = sorted(_cart_steps(co.plan))
    on_hand = {}
    for sku, qty in lines_in_order:
        left = await tx.value(
            "UPDATE stocks SET reserved = reserved + :q WHERE sku_id = :sku AND on_hand - reserved >= :q "
            "RETURNING on_hand",
            q=qty,
            sku=sku,
        )
        if left is None:
            raise StockShort(f"SKU {sku}")
        on_hand[sku] = left
    for sku, qty in lines_in_order:
        await tx.value(
            "INSERT INTO stock_movements (sku_id, kind, delta, on_hand_after, reason, actor_id, created_at) "
            "VALUES (:sku, 'reservation', :q, :on_hand, :reason, :actor, :now) RETURNING id",
            sku=sku,
            q=qty,
            on_hand=on_hand[sku],
            reason=f"order O-{order_id + OFFSET}",
            actor=user_id,
            now=now,
        )
    intent = f"pi_sim_{uuid.uuid4().hex[:24]}"
    co.ids["intent"] = intent
    await tx.run(
        "INSERT INTO simulated_payment_intents (id, idempotency_key, client_secret, amount, currency, reference, "
        "status, refunded_amount, card_brand, card_last4, last_failure_code, created_at, updated_at) VALUES "
        "(:id, :key, :secret, :amount, 'USD', :reference, 'requires_payment_method', 0, NULL, NULL, NULL, :now, "
        ":now)",
        id=intent,
        key=f"payment:order:{order_id}",
        secret=f"{intent}_secret_{uuid.uuid4().hex[:24]}",
        amount=total,
        reference=f"order O-{order_id + OFFSET}",
        now=now,
    )
    co.ids["payment"] = await tx.value(
        "INSERT INTO payments (provider, intent_id, idempotency_key, amount, currency, refunded_amount, status, "
        "reference, order_id, user_id, card_brand, card_last4, failure_code, failure_message, succeeded_at, "
        "created_at, updated_at) VALUES ('simulated', :intent, :key, :amount, 'USD', 0, 'requires_payment', "
        ":reference, :order_id, :user_id, NULL, NULL, NULL, NULL, NULL, :now, :now) RETURNING id",
        intent=intent,
        key=f"order:{order_id}",
        amount=total,
        reference=f"order O-{order_id + OFFSET}",
        order_id=order_id,
        user_id=user_id,
        now=now,
    )
    await tx.run(
        "UPDATE orders SET payment_id = :payment, updated_at = :now WHERE id = :id",
        payment=co.ids["payment"],
        now=now,
        id=order_id,
    )


async def charge(tx: Tx, catalog: Catalog, co: Checkout) -> None:
    """Step 2: the payment claimed for the provider, the simulated intent charged, its webhook job queued."""
    now_dt = datetime.now(UTC)
    now = tx.ts(now_dt)
    claimed = await tx.value(
        "UPDATE payments SET status = 'processing', failure_code = NULL, failure_message = NULL, updated_at = :now "
        "WHERE id = :id AND status IN ('requires_payment', 'failed') RETURNING id",
        now=now,
        id=co.ids["payment"],
    )
    if claimed is None:
        raise RuntimeError("payment not payable")
    await tx.run(
        "UPDATE simulated_payment_intents SET status = 'succeeded', card_brand = 'visa', card_last4 = '4242', "
        "updated_at = :now WHERE id = :id",
        now=now,
        id=co.ids["intent"],
    )
    event = f"evt_sim_{uuid.uuid4().hex[:24]}"
    co.ids["event"] = event
    payload = {
        "provider": "simulated",
        "event": {
            "id": event,
            "type": "payment_intent.succeeded",
            "intent_id": co.ids["intent"],
            "amount": co.ids["total"],
            "currency": "USD",
            "created": int(now_dt.timestamp()),
        },
    }
    co.ids["job"] = await tx.value(
        "INSERT INTO jobs (kind, payload, status, run_at, attempts, max_attempts, last_error, locked_by, "
        "locked_until, dedupe_key, created_at, finished_at) VALUES ('payment.deliver_webhook', :payload, "
        "'queued', :now, 0, 8, NULL, NULL, NULL, :dedupe, :now, NULL) RETURNING id",
        payload=_json(payload),
        now=now,
        dedupe=f"payment-webhook:simulated:{event}",
    )
    await tx.run(
        "UPDATE payments SET card_brand = 'visa', card_last4 = '4242', updated_at = :now WHERE id = :id",
        now=now,
        id=co.ids["payment"],
    )


def _response_body(catalog: Catalog, co: Checkout, now: datetime) -> str:
    """The answer stored with the Idempotency-Key: the order as ``OrderRead`` shapes it (same fields)."""
    stamp = now.isoformat().replace("+00:00", "Z")
    order_id = co.ids["order"]
    seller_orders = []
    for so_id, store, lines, total in co.ids["seller_orders"]:
        seller_orders.append(
            {
                "id": so_id,
                "number": f"SO-{so_id + OFFSET}",
                "order_id": order_id,
                "store": {"id": store, "name": f"Bench store {store}", "slug": f"bench-store-{store}"},
                "status": "pending_payment",
                "currency": "USD",
                "items_amount": total - 499,
                "shipping_amount": 499,
                "total_amount": total,
                "shipping": {
                    "method_id": store,
                    "name": "Standard",
                    "kind": "surface",
                    "price_amount": 499,
                    "free_over_amount": None,
                },
                "commission_bps": 200,
                "pay_by": stamp,
                "ship_by": None,
                "auto_confirm_at": None,
                "receipt_timer_paused": False,
                "auto_confirm_remaining_seconds": None,
                "receipt_extended": False,
                "seller_late": False,
                "created_at": stamp,
                "paid_at": None,
                "shipped_at": None,
                "delivered_at": None,
                "completed_at": None,
                "claim_until": None,
                "cancelled_at": None,
                "cancel_reason": None,
                "lines": [
                    {
                        "id": 0,
                        "sku_id": sku,
                        "product_id": (sku - 1) // 2 + 1,
                        "is_sample": False,
                        "title": f"Bench product {(sku - 1) // 2 + 1}",
                        "sku_code": f"B{sku}",
                        "options": {"Size": "S"},
                        "unit_price_amount": catalog.price(sku),
                        "quantity": qty,
                        "line_total_amount": catalog.price(sku) * qty,
                        "currency": "USD",
                    }
                    for sku, qty in lines
                ],
                "shipment": None,
                "timeline": [
                    {
                        "id": 0,
                        "kind": "placed",
                        "text": "Order placed",
                        "actor_role": "buyer",
                        "actor_name": f"Bench buyer {co.buyer.user_id}",
                        "created_at": stamp,
                        "data": {"total_amount": total},
                    }
                ],
                "review": None,
                "dispute": None,
            }
        )
    return _json(
        {
            "id": order_id,
            "number": f"O-{order_id + OFFSET}",
            "status": "pending_payment",
            "currency": "USD",
            "items_amount": co.ids["total"] - 499 * len(seller_orders),
            "shipping_amount": 499 * len(seller_orders),
            "total_amount": co.ids["total"],
            "shipping_address": _address(co.buyer),
            "created_at": stamp,
            "pay_by": stamp,
            "paid_at": None,
            "closed_at": None,
            "payment": {
                "id": co.ids["payment"],
                "status": "processing",
                "amount": co.ids["total"],
                "currency": "USD",
                "refunded_amount": 0,
                "card_brand": "visa",
                "card_last4": "4242",
                "failure_code": None,
                "failure_message": None,
            },
            "next_action": {
                "kind": "payment_processing",
                "label": "Payment being confirmed by the provider",
                "deadline_label": "",
                "deadline": None,
                "actions": [],
            },
            "seller_orders": seller_orders,
        }
    )


async def settle(tx: Tx, catalog: Catalog, co: Checkout) -> None:
    """Step 3: the payment is still processing (the webhook will confirm it): only the key's answer."""
    now_dt = datetime.now(UTC)
    await tx.run(
        "UPDATE idempotency_keys SET status = 'done', locked_until = NULL, response_status = 201, "
        "response_body = :body, completed_at = :now WHERE id = :id",
        body=_response_body(catalog, co, now_dt),
        now=tx.ts(now_dt),
        id=co.ids["key"],
    )


async def claim_job(tx: Tx, catalog: Catalog, co: Checkout) -> None:
    """``souk worker``: claims the webhook job (its own transaction)."""
    now_dt = datetime.now(UTC)
    claimed = await tx.run(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = :worker, locked_until = :until "
        "WHERE id = :id AND status = 'queued'",
        worker=WORKER_NAME,
        until=tx.ts(now_dt + timedelta(minutes=5)),
        id=co.ids["job"],
    )
    if claimed != 1:
        raise RuntimeError("job not claimed")


async def webhook(tx: Tx, catalog: Catalog, co: Checkout) -> None:
    """``payment.deliver_webhook``: the event recorded, the payment succeeded, the order and each seller order
    paid with its escrow entry (the entry, the escrow's cached balance, two postings), the stock sold with its
    movement, the store told, the timeline; the bought lines leave the cart; the job done."""
    now_dt = datetime.now(UTC)
    now = tx.ts(now_dt)
    event_row = await tx.value(
        "INSERT INTO webhook_events (provider, event_id, type, intent_id, outcome, received_at) VALUES "
        "('simulated', :event, 'payment_intent.succeeded', :intent, 'received', :now) "
        "ON CONFLICT (provider, event_id) DO NOTHING RETURNING id",
        event=co.ids["event"],
        intent=co.ids["intent"],
        now=now,
    )
    await tx.value(
        "UPDATE payments SET status = 'succeeded', failure_code = NULL, failure_message = NULL, "
        "succeeded_at = :now, updated_at = :now WHERE id = :id AND status IN ('requires_payment', 'processing', "
        "'failed') RETURNING id",
        now=now,
        id=co.ids["payment"],
    )
    paid = await tx.run(
        "UPDATE orders SET status = 'paid', paid_at = :now, updated_at = :now WHERE id = :id "
        "AND status = 'pending_payment'",
        now=now,
        id=co.ids["order"],
    )
    if paid != 1:
        raise RuntimeError("order not payable")
    ship_by = tx.ts(now_dt + timedelta(days=3))
    for so_id, store, lines, total in co.ids["seller_orders"]:
        await tx.run(
            "UPDATE seller_orders SET status = 'paid', ship_by = :ship_by, paid_at = :now, updated_at = :now "
            "WHERE id = :id AND status IN ('pending_payment')",
            ship_by=ship_by,
            now=now,
            id=so_id,
        )
        entry = await tx.value(
            "INSERT INTO ledger_entries (idempotency_key, kind, memo, reference_type, reference_id, created_at) "
            "VALUES (:key, 'payment_captured', :memo, 'seller_order', :so, :now) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            key=f"so:{so_id}:captured",
            memo=f"Order SO-{so_id + OFFSET} paid",
            so=so_id,
            now=now,
        )
        escrow = f"escrow:store:{store}:so:{so_id}"
        await tx.run(
            "INSERT INTO ledger_account_balances (account, currency, kind, store_id, balance, updated_at) "
            "VALUES (:account, 'USD', 'escrow', :store, 0, :now) ON CONFLICT (account, currency) DO NOTHING",
            account=escrow,
            store=store,
            now=now,
        )
        await tx.value(
            "UPDATE ledger_account_balances SET balance = balance + :amount, updated_at = :now "
            "WHERE account = :account AND currency = 'USD' RETURNING account, currency, balance",
            amount=total,
            now=now,
            account=escrow,
        )
        for account, amount, store_id in (("psp_clearing", -total, None), (escrow, total, store)):
            await tx.value(
                "INSERT INTO ledger_postings (entry_id, account, amount, currency, store_id, created_at) "
                "VALUES (:entry, :account, :amount, 'USD', :store, :now) RETURNING id",
                entry=entry,
                account=account,
                amount=amount,
                store=store_id,
                now=now,
            )
        items = 0
        for sku, qty in lines:
            left = await tx.value(
                "UPDATE stocks SET on_hand = on_hand - :q, reserved = reserved - :q WHERE sku_id = :sku "
                "AND reserved >= :q AND on_hand >= :q RETURNING on_hand",
                q=qty,
                sku=sku,
            )
            if left is None:
                raise StockShort(f"SKU {sku} not reserved")
            await tx.run(
                "INSERT INTO stock_movements (sku_id, kind, delta, on_hand_after, reason, actor_id, created_at) "
                "VALUES (:sku, 'sale', :delta, :on_hand, :reason, NULL, :now)",
                sku=sku,
                delta=-qty,
                on_hand=left,
                reason=f"sold: order SO-{so_id + OFFSET}",
                now=now,
            )
            items += qty
        await tx.run(
            "INSERT INTO notifications (user_id, kind, title, body, link, created_at, read_at) VALUES "
            "(:user_id, 'order.paid', :title, :body, :link, :now, NULL)",
            user_id=store,  # the store's owner (the loader gives store i to user i)
            title=f"New order SO-{so_id + OFFSET} to ship",
            body=f"{items} item{'s' if items != 1 else ''}, US${total / 100:.2f}. Ship by {now_dt:%Y-%m-%d %H:%M} UTC.",
            link=f"/seller/stores/{store}/orders/{so_id}",
            now=now,
        )
        await tx.run(
            "INSERT INTO order_events (seller_order_id, kind, actor_id, actor_role, data, created_at) "
            "VALUES (:so, 'paid', :buyer, 'buyer', :data, :now)",
            so=so_id,
            buyer=co.buyer.user_id,
            data=_json({"amount": total, "payment_id": co.ids["payment"]}),
            now=now,
        )
    for sku, _qty in sorted(_cart_steps(co.plan)):
        await tx.value(
            "DELETE FROM cart_lines WHERE cart_id = :cart AND sku_id = :sku AND is_sample = :sample RETURNING id",
            cart=co.buyer.cart_id,
            sku=sku,
            sample=False,
        )
    await tx.run("UPDATE carts SET updated_at = :now WHERE id = :id", now=now, id=co.buyer.cart_id)
    await tx.run("UPDATE webhook_events SET outcome = 'applied' WHERE id = :id", id=event_row)
    await tx.run(
        "UPDATE jobs SET status = 'done', last_error = NULL, locked_by = NULL, locked_until = NULL, "
        "finished_at = :now WHERE id = :id AND status = 'running' AND locked_by = :worker",
        now=now,
        id=co.ids["job"],
        worker=WORKER_NAME,
    )


def transactions(plan: list[tuple[int, list[tuple[int, int]]]]) -> list[tuple[str, Step]]:
    """The transactions of one full checkout with this cart, in order."""
    steps: list[tuple[str, Step]] = []
    for sku, qty in _cart_steps(plan):

        async def cart(tx: Tx, catalog: Catalog, co: Checkout, sku: int = sku, qty: int = qty) -> None:
            await add_to_cart(tx, catalog, co, sku, qty)

        steps.append((f"POST /api/v1/cart/items (SKU {sku})", cart))
    steps += [
        ("checkout step 1: place", place),
        ("checkout step 2: charge", charge),
        ("checkout step 3: settle (the key's answer)", settle),
        ("worker: claim the webhook job", claim_job),
        ("worker: payment.deliver_webhook (mark paid)", webhook),
    ]
    return steps
