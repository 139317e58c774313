"""Crash consistency of checkout (issue 5): under checkout load, server processes are killed with SIGKILL at random
moments, and on PostgreSQL the database is stopped with an immediate shutdown; after every recovery each
acknowledged order exists, the ledger balances, stock + sold == initial, unpaid orders' reservations are released
by their timer, and a retry with the same Idempotency-Key returns the original result (``crash_world`` describes
a round and its checks). 0 violations.

CI: 26 server kills on SQLite; on PostgreSQL 20 server kills and 5 immediate database shutdowns, on a throwaway
cluster of the test's own (never the shared server). ``SOUK_SOAK=1``: 200 kills (and 40 shutdowns). The RNG seed
is random per run and printed (``SOUK_CRASH_SEED=<n>`` repeats a run's choices; the moments also depend on
timing).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator

import pytest
from crash_cluster import PgCluster
from crash_world import World, no_recovery, run_round, seed_world, server_crashes
from crash_zygote import Zygote

from fixtures.core import is_postgres
from fixtures.servers import OpenServers, ServerGroup, soak

BUYERS = 8
STOCK = 100_000


def _seed() -> int:
    raw = os.environ.get("SOUK_CRASH_SEED", "")
    return int(raw) if raw.isdigit() else random.SystemRandom().randrange(1, 10**9)


def _report(world: World, started: float) -> str:
    return f"crash seed {world.seed}: {world.tally.line()}, {time.monotonic() - started:.1f}s"


@pytest.fixture
def zygotes() -> Iterator[list[Zygote]]:
    opened: list[Zygote] = []
    yield opened
    for zygote in opened:
        zygote.close()


async def _world(servers: ServerGroup, zygotes: list[Zygote]) -> tuple[World, Zygote]:
    zygote = Zygote.spawn(servers)  # builds the app while the world is seeded
    zygotes.append(zygote)
    world = await seed_world(servers, _seed(), buyers=BUYERS, stock=STOCK)
    world.note(f"crash seed {world.seed} (SOUK_CRASH_SEED={world.seed} repeats the choices)")
    zygote.wait_ready()
    return world, zygote


async def test_server_kills_under_checkout_load(souk_servers: OpenServers, zygotes: list[Zygote]) -> None:
    if is_postgres():
        pytest.skip(
            "on PostgreSQL the server kills run in test_crashes_on_postgresql (a cluster it may shut down)"
        )
    kills = soak(ci=26, soak=200)
    started = time.monotonic()
    async with souk_servers("crash_kills", processes=2) as servers:
        world, zygote = await _world(servers, zygotes)
        disrupt, recover = server_crashes(world, zygote)
        await run_round(world, None, no_recovery)  # measures how long a round's load lasts
        while world.tally.server_kills < kills:
            await run_round(world, disrupt, recover)
        world.note(_report(world, started))
    assert world.tally.server_kills >= kills
    assert world.tally.acknowledged > 0 and world.tally.closed_by_timer > 0
    assert world.violations == [], "\n".join(world.violations)


async def test_crashes_on_postgresql(
    crash_pg_cluster: PgCluster, souk_servers: OpenServers, zygotes: list[Zygote]
) -> None:
    """Server kills and, every fourth round, an immediate shutdown of the database (its own cluster)."""
    kills, shutdowns = soak(ci=20, soak=200), soak(ci=5, soak=40)
    started = time.monotonic()
    async with souk_servers("crash_pg", processes=2) as servers:
        world, zygote = await _world(servers, zygotes)
        kill, restart = server_crashes(world, zygote)

        async def shut_down(rng: random.Random) -> str:
            crash_pg_cluster.stop_immediately()
            world.tally.db_shutdowns += 1
            return "PostgreSQL immediate shutdown"

        async def start_again() -> None:
            crash_pg_cluster.start()
            await servers.ready()

        await run_round(world, None, no_recovery)
        while world.tally.server_kills < kills or world.tally.db_shutdowns < shutdowns:
            if world.tally.db_shutdowns < shutdowns and (
                world.tally.rounds % 4 == 0 or world.tally.server_kills >= kills
            ):
                await run_round(world, shut_down, start_again, outage=True)
            else:
                await run_round(world, kill, restart)
        world.note(_report(world, started))
    assert world.tally.server_kills >= kills and world.tally.db_shutdowns >= shutdowns
    assert world.tally.acknowledged > 0 and world.tally.closed_by_timer > 0
    assert world.violations == [], "\n".join(world.violations)
