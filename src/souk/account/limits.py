"""Failed-login limits shared by every server process (ADR 0003 "Login limits").

Two stores count events (failed logins, "forgot password" requests) of one account (its email) and of one IP
address within a sliding window:

- ``DatabaseLimitStore`` (the default): rows in ``login_failures`` written in the request's transaction (the edge
  commits them before answering 401), so every process on the same database sees them.
- ``RedisLimitStore`` (when ``SOUK_REDIS_URL`` is set): one sorted set per account and per IP, members scored by
  the time of the event; members older than an hour are trimmed on every write and an idle key expires.
  Failures count as soon as they happen (no transaction), in every process using that Redis.

The numbers come from the settings (``login_max_failures_per_account`` / ``_per_ip`` within
``login_failure_window_seconds``); the service asks ``limit_store(session, settings)`` for the store.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import weakref
from datetime import datetime, timedelta
from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from souk.account.errors import LimitStoreUnavailable
from souk.account.repository import AccountRepository, CountedEvent
from souk.config import Settings
from souk.models import LoginFailure, PasswordResetRequest

log = logging.getLogger("souk.account")


# what a store counts: failed logins, and "forgot password" requests
Kind = Literal["login", "reset"]
_MODELS: dict[str, CountedEvent] = {"login": LoginFailure, "reset": PasswordResetRequest}


class LimitStore(Protocol):
    async def counts(self, kind: Kind, email: str, ip: str, since: datetime) -> tuple[int, int]:
        """(events of this account, events from this IP) of ``kind`` since ``since``."""
        ...

    async def add(self, kind: Kind, email: str, ip: str, at: datetime) -> None: ...

    async def clear(self, kind: Kind, email: str) -> None:
        """Forget the account's events of ``kind`` (failed logins after a successful login)."""
        ...


class DatabaseLimitStore:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = AccountRepository(session)

    async def counts(self, kind: Kind, email: str, ip: str, since: datetime) -> tuple[int, int]:
        model = _MODELS[kind]
        return (
            await self.repo.count_events(model, "email", email, since),
            await self.repo.count_events(model, "ip", ip, since),
        )

    async def add(self, kind: Kind, email: str, ip: str, at: datetime) -> None:
        await self.repo.add_event(_MODELS[kind], email, ip, at)

    async def clear(self, kind: Kind, email: str) -> None:
        await self.repo.clear_events(_MODELS[kind], email)


# one client per event loop and URL (a redis.asyncio connection belongs to the loop that opened it)
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, object]] = (
    weakref.WeakKeyDictionary()
)


def redis_client(url: str) -> object:
    """The shared ``redis.asyncio.Redis`` for ``url`` on the running event loop."""
    import redis.asyncio as aioredis

    per_loop = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(url)
    if client is None:
        client = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        per_loop[url] = client
    return client


async def close_redis_clients() -> None:
    """Close the Redis clients of the running event loop (at shutdown, and after tests)."""
    per_loop = _CLIENTS.pop(asyncio.get_running_loop(), {})
    for client in per_loop.values():
        await client.aclose()  # type: ignore[attr-defined]


class RedisLimitStore:
    # longest window any kind uses (a key lives this long after its last event)
    KEEP_SECONDS = 3600

    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as aioredis

        client = redis_client(url)
        assert isinstance(client, aioredis.Redis)
        self.redis = client
        self.prefix = prefix

    def _keys(self, kind: Kind, email: str, ip: str) -> tuple[str, str]:
        return f"{self.prefix}{kind}:account:{email}", f"{self.prefix}{kind}:ip:{ip}"

    async def counts(self, kind: Kind, email: str, ip: str, since: datetime) -> tuple[int, int]:
        from redis.exceptions import RedisError

        low = since.timestamp()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in self._keys(kind, email, ip):
                    pipe.zcount(key, low, "+inf")
                account, by_ip = await pipe.execute()
        except RedisError as exc:
            raise self._unavailable(exc) from exc
        return int(account), int(by_ip)

    async def add(self, kind: Kind, email: str, ip: str, at: datetime) -> None:
        from redis.exceptions import RedisError

        score = at.timestamp()
        oldest = (at - timedelta(seconds=self.KEEP_SECONDS)).timestamp()
        member = f"{score:.6f}:{secrets.token_hex(4)}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for key in self._keys(kind, email, ip):
                    pipe.zadd(key, {member: score})
                    pipe.zremrangebyscore(key, "-inf", f"({oldest}")
                    pipe.expire(key, self.KEEP_SECONDS + 60)
                await pipe.execute()
        except RedisError as exc:
            raise self._unavailable(exc) from exc

    async def clear(self, kind: Kind, email: str) -> None:
        from redis.exceptions import RedisError

        try:
            await self.redis.delete(self._keys(kind, email, "")[0])
        except RedisError as exc:
            raise self._unavailable(exc) from exc

    @staticmethod
    def _unavailable(exc: Exception) -> LimitStoreUnavailable:
        log.error("the login limit store (Redis) is unreachable: %s", type(exc).__name__)
        # refuse rather than let logins through unlimited
        return LimitStoreUnavailable("Logging in is unavailable for a moment. Try again shortly.")


def limit_store(session: AsyncSession, settings: Settings) -> LimitStore:
    """The store the settings choose: Redis when ``SOUK_REDIS_URL`` is set, else the database."""
    if settings.redis_url:
        return RedisLimitStore(settings.redis_url, settings.redis_key_prefix)
    return DatabaseLimitStore(session)
