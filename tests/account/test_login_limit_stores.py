"""Failed-login limits in both stores (the database, and Redis when SOUK_REDIS_URL is set), and the proof that
the limits hold across several server processes: two app instances, each with its own engine (its own
connection pool, as two processes have), count the same failures."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.servers import soak
from souk.account.errors import LimitStoreUnavailable, LoginRateLimited
from souk.account.limits import DatabaseLimitStore, LimitStore, RedisLimitStore, close_redis_clients
from souk.account.service import account_service
from souk.app import create_app
from souk.config import Settings
from souk.kit.clock import utcnow
from souk.models import LoginFailure, User

REDIS_URL = os.environ.get("SOUK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WRONG = "not the password at all"


@pytest.fixture
async def redis_settings(settings: Settings) -> AsyncIterator[Settings]:
    """The test settings with the Redis store, under a key prefix of this test only (deleted afterwards).
    Redis is part of the test environment (CI runs one): unreachable is a failure, not a skip."""
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except RedisError as exc:
        await client.aclose()
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({type(exc).__name__}: {exc}). The login-limit tests need "
            "it: start redis-server, or point SOUK_TEST_REDIS_URL at one."
        )
    prefix = f"souk-test-{secrets.token_hex(6)}:"
    yield settings.model_copy(update={"redis_url": REDIS_URL, "redis_key_prefix": prefix})
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
    await close_redis_clients()


def store_of(kind: str, session: AsyncSession, redis_settings: Settings | None) -> LimitStore:
    if kind == "redis":
        assert redis_settings is not None and redis_settings.redis_url
        return RedisLimitStore(redis_settings.redis_url, redis_settings.redis_key_prefix)
    return DatabaseLimitStore(session)


async def test_both_stores_count_a_sliding_window_per_account_and_per_ip(
    session: AsyncSession, redis_settings: Settings
) -> None:
    now = utcnow()
    for kind in ("database", "redis"):
        store = store_of(kind, session, redis_settings)
        await store.add("login", "a@example.com", "10.0.0.1", now - timedelta(minutes=20))
        await store.add("login", "a@example.com", "10.0.0.1", now - timedelta(minutes=5))
        await store.add("login", "a@example.com", "10.0.0.2", now)
        await store.add("login", "b@example.com", "10.0.0.1", now)
        await store.add("reset", "a@example.com", "10.0.0.1", now)  # another kind: counted apart
        since = now - timedelta(minutes=15)
        assert await store.counts("login", "a@example.com", "10.0.0.1", since) == (2, 2), kind
        assert await store.counts("login", "a@example.com", "10.0.0.1", now - timedelta(hours=1)) == (3, 3), (
            kind
        )
        assert await store.counts("reset", "a@example.com", "10.0.0.1", since) == (1, 1), kind
        await store.clear("login", "a@example.com")
        # the account's count is forgotten (the IP's count may keep them: Redis counts per key)
        assert (await store.counts("login", "a@example.com", "10.0.0.1", since))[0] == 0, kind
        assert await store.counts("reset", "a@example.com", "10.0.0.1", since) == (1, 1), kind
        await store.clear("login", "b@example.com")
        await store.clear("reset", "a@example.com")


async def test_redis_store_keeps_failures_out_of_the_database(
    session: AsyncSession, user_factory: Any, redis_settings: Settings
) -> None:
    await user_factory(email="redis-limited@example.com")
    for _ in range(redis_settings.login_max_failures_per_account):
        assert (
            await account_service.authenticate(
                session, "redis-limited@example.com", WRONG, "10.1.1.1", settings=redis_settings
            )
            is None
        )
    with pytest.raises(LoginRateLimited):
        await account_service.authenticate(
            session, "redis-limited@example.com", "correct horse battery", "10.1.1.1", settings=redis_settings
        )
    rows = await session.scalar(select(func.count()).select_from(LoginFailure))
    assert rows == 0  # counted in Redis only
    # the database store does not see them (the stores are really separate)
    assert await DatabaseLimitStore(session).counts(
        "login", "redis-limited@example.com", "10.1.1.1", utcnow() - timedelta(hours=1)
    ) == (0, 0)


async def test_an_unreachable_redis_refuses_logins_with_503(
    session: AsyncSession, settings: Settings
) -> None:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "redis_key_prefix": "x:"})
    with pytest.raises(LimitStoreUnavailable) as caught:
        await account_service.authenticate(session, "a@example.com", WRONG, "10.0.0.9", settings=broken)
    assert caught.value.status_code == 503 and caught.value.code == "login_unavailable"
    await close_redis_clients()


# --- several processes --------------------------------------------------------------------------------


async def _processes_share_the_count(base: Settings) -> None:
    """Several app instances (separate engines and pools) on the same database: failures made through any of
    them count against the same account and the same IP address. 2 instances in CI, 4 with SOUK_SOAK=1."""
    processes = soak(ci=2, soak=4)
    per_account = processes + 1
    per_ip = per_account + processes
    settings = base.model_copy(
        update={"login_max_failures_per_account": per_account, "login_max_failures_per_ip": per_ip}
    )
    email = f"shared-{secrets.token_hex(4)}@example.com"
    ip = f"198.51.100.{secrets.randbelow(250) + 1}"
    apps = [create_app(settings) for _ in range(processes)]
    assert len({id(a.state.db.engine) for a in apps}) == processes
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=a, client=(ip, 4000)), base_url="http://test")
        for a in apps
    ]
    try:
        async with apps[0].state.db.sessionmaker() as s, s.begin():
            await account_service.create_user(s, email, "correct horse battery", "Shared")

        async def attempt(n: int, who: str, password: str = WRONG) -> int:
            r = await clients[n % processes].post(
                "/api/v1/auth/tokens", json={"email": who, "password": password}
            )
            return r.status_code

        # per account: the failures spread over every process, then every one refuses (even the right password)
        assert [await attempt(n, email) for n in range(per_account)] == [401] * per_account
        assert [await attempt(n, email, "correct horse battery") for n in range(processes)] == [
            429
        ] * processes
        # per IP: failures on other accounts from the same address, through every process, reach the IP limit
        others = [await attempt(n, f"{n}-{email}") for n in range(per_ip - per_account)]
        assert others == [401] * (per_ip - per_account)
        assert [await attempt(n, f"late-{n}-{email}") for n in range(processes)] == [429] * processes
    finally:
        for c in clients:
            await c.aclose()
        async with apps[0].state.db.sessionmaker() as s, s.begin():
            await s.execute(delete(LoginFailure).where(LoginFailure.ip == ip))
            await s.execute(delete(User).where(User.email == email))
        for a in apps:
            await a.state.db.dispose()


async def test_two_processes_share_the_count_in_the_database(engine: Any, settings: Settings) -> None:
    await _processes_share_the_count(settings)


async def test_two_processes_share_the_count_in_redis(engine: Any, redis_settings: Settings) -> None:
    await _processes_share_the_count(redis_settings)
