"""The platform's long-lived handles, opened once per process: it only assembles.

Each adapter opens one `Platform` at start-up and closes it at shutdown. Core use cases
take what they use (a session, the vault, a narrow Protocol such as
`wellcoach.chat.deps.ChatServices`), which a `Platform` satisfies; nothing in the
domains imports this module.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TypeVar

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.auth.signing import Signer
from wellcoach.config import Settings, get_settings
from wellcoach.crypto import Keyring, Vault
from wellcoach.db.session import Database, unit_of_work
from wellcoach.health.store import HealthStore
from wellcoach.health.stores import make_store
from wellcoach.llm.providers import OpenAIProvider
from wellcoach.llm.selection import make_llm
from wellcoach.notify.devices import Devices, RedisDevices
from wellcoach.rag.embedders import Embedder, make_embedder
from wellcoach.ratelimit import RateLimiter
from wellcoach.ratelimit.gate import Gate
from wellcoach.runtime.services import ServiceUrls, resolve_services

T = TypeVar("T")


@dataclass
class Platform:
    settings: Settings
    urls: ServiceUrls
    database: Database
    redis: aioredis.Redis
    vault: Vault
    limiter: RateLimiter
    gate: Gate
    signer: Signer
    embedder: Embedder  # the offline model loads once per process, on first use
    llm: OpenAIProvider | None  # None: replies are composed offline
    devices: Devices
    health_store: HealthStore

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        async with unit_of_work(self.database) as session:
            yield session

    def with_settings(self, settings: Settings) -> Platform:
        """The same connections with other settings, and the clients built from them
        (a test that configures a model, a bench that switches providers)."""
        return replace(
            self,
            settings=settings,
            embedder=make_embedder(settings),
            llm=make_llm(settings),
            health_store=make_store(settings),
        )

    async def close(self) -> None:
        await self.redis.aclose()
        await self.gate.close()
        await self.health_store.close()
        await self.database.dispose()


async def open_platform(
    settings: Settings | None = None, urls: ServiceUrls | None = None
) -> Platform:
    """Connect to the configured services, starting embedded ones if none are configured."""
    settings = settings or get_settings()
    if urls is None:
        urls = await asyncio.to_thread(resolve_services, settings)
    keyring = Keyring.from_settings(
        settings.master_key.get_secret_value() if settings.master_key else None,
        [key.get_secret_value() for key in settings.previous_master_keys],
        settings.data_path,
    )
    database = Database(urls.database_url, settings.db)
    return Platform(
        settings=settings,
        urls=urls,
        database=database,
        redis=aioredis.Redis.from_url(
            urls.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0
        ),
        vault=Vault(keyring),
        limiter=RateLimiter(urls.redis_url),
        gate=Gate(
            urls.redis_url,
            timeout_seconds=settings.ratelimit.redis_timeout_seconds,
            breaker_seconds=settings.ratelimit.breaker_seconds,
        ),
        signer=Signer(settings.auth, keyring, database.sessions),
        embedder=make_embedder(settings),
        llm=make_llm(settings),
        devices=RedisDevices(urls.redis_url),
        health_store=make_store(settings),
    )


def run_with_platform(
    work: Callable[[Platform], Awaitable[T]], settings: Settings | None = None
) -> T:
    """The one entry of sync adapters (CLI, RQ jobs, Streamlit) into the async core."""

    async def _main() -> T:
        platform = await open_platform(settings)
        try:
            return await work(platform)
        finally:
            await platform.close()

    return asyncio.run(_main())
