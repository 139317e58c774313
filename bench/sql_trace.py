"""The SQL one full checkout runs, transaction by transaction: what ``bench.scenarios.checkout_raw`` replicates.

Seeds a small catalog (the checkout scenario's loader) in a temporary SQLite file (or, with ``--postgres-url``,
a temporary PostgreSQL database), builds Souk's app in this process with production settings, runs one full
checkout through the API (2 cart lines from 2 stores, then ``POST /api/v1/checkouts``) with httpx's ASGI
transport and prints every statement the app sent, grouped by transaction, writes marked. With ``--worker``
it then runs the due jobs (the payment webhook) and prints their SQL too.

    python -m bench.sql_trace
    python -m bench.sql_trace --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/souk_bench_trace
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
from typing import Any

import httpx
from sqlalchemy import event

from bench.harness import BenchDatabase, fresh_database

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


class Trace:
    """Statements per transaction, from the engine's events."""

    def __init__(self, params: bool = False) -> None:
        self.params = params
        self.transactions: list[list[str]] = [[]]

    def install(self, engine: Any) -> None:
        sync = engine.sync_engine

        @event.listens_for(sync, "before_cursor_execute")
        def _statement(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
            flat = " ".join(statement.split())
            if self.params and WRITE.match(flat):
                flat += f"   -- {params!r}"[:2000]
            self.transactions[-1].append(flat)

        @event.listens_for(sync, "commit")
        def _commit(_conn: Any) -> None:
            self.transactions[-1].append("COMMIT")
            self.transactions.append([])

        @event.listens_for(sync, "rollback")
        def _rollback(_conn: Any) -> None:
            self.transactions[-1].append("ROLLBACK")
            self.transactions.append([])

    def reset(self) -> None:
        self.transactions = [[]]

    def print(self, title: str) -> None:
        print(f"\n===== {title}")
        number = 0
        for tx in self.transactions:
            if not tx:
                continue
            number += 1
            writes = sum(1 for s in tx if WRITE.match(s))
            print(f"--- transaction {number}: {len(tx)} statements, {writes} writes")
            for statement in tx:
                mark = "W " if WRITE.match(statement) else "  "
                print(f"{mark}{statement if mark == 'W ' else statement[:200]}")


async def trace(db: BenchDatabase, worker: bool, params: bool) -> None:
    from bench.scenarios.checkout import CARD, CURRENCY, seed
    from souk.app import create_app
    from souk.config import Settings

    catalog, _ = await seed(db, skus=400, stores=4, buyers=4)
    settings = Settings(
        data_dir=db.data_dir,
        database_url=db.url,
        secret_key="trace",
        worker_in_process=False,
        sqlite_synchronous="FULL",
    )
    app = create_app(settings)
    tracer = Trace(params)
    tracer.install(app.state.db.engine)
    buyer = catalog.buyers[0]
    auth = {"Authorization": f"Bearer {buyer.token}"}
    rng = random.Random(7)
    skus = [catalog.random_sku(rng, 1), catalog.random_sku(rng, 2)]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for sku in skus:
            tracer.reset()
            response = await client.post(
                "/api/v1/cart/items", json={"sku_id": sku, "quantity": 1}, headers=auth
            )
            assert response.status_code == 201, response.text
            tracer.print(f"POST /api/v1/cart/items (sku {sku})")
        tracer.reset()
        body = {
            "currency": CURRENCY,
            "address_id": buyer.address_id,
            "shipping": [{"store_id": s, "shipping_method_id": s} for s in (1, 2)],
            "card": CARD,
        }
        response = await client.post(
            "/api/v1/checkouts", json=body, headers={**auth, "Idempotency-Key": "trace-1"}
        )
        assert response.status_code == 201, response.text
        tracer.print("POST /api/v1/checkouts")
    if worker:
        from souk.worker.runner import Worker

        tracer.reset()
        await Worker(app.state.db.sessionmaker, concurrency=1, poll_seconds=0.1, lease_seconds=60).run_once()
        tracer.print("souk worker --once (the payment webhook job)")
    await app.state.db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres-url", help="trace on PostgreSQL (a temporary database on this server)")
    parser.add_argument("--worker", action="store_true", help="also trace the jobs the checkout enqueued")
    parser.add_argument("--params", action="store_true", help="print the parameters of the writes")
    args = parser.parse_args()
    kind = "postgres" if args.postgres_url else "sqlite"
    with fresh_database(kind, args.postgres_url or "", 0) as db:
        asyncio.run(trace(db, args.worker, args.params))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
