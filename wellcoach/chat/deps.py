"""What the chat domain needs from the platform, named as a Protocol: the functions of
this domain say what they use, and `wellcoach.platform.Platform` (assembled above the
domains) satisfies it without the domain importing it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import redis.asyncio as aioredis

from wellcoach.config import Settings
from wellcoach.crypto import Vault
from wellcoach.health.store import HealthStore
from wellcoach.llm.providers import OpenAIProvider
from wellcoach.notify.devices import Devices
from wellcoach.rag.embedders import Embedder

# awaited by a turn once it has read all it needs, before it waits for the model
Pause = Callable[[], Awaitable[None]]


class ChatServices(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def vault(self) -> Vault: ...

    @property
    def redis(self) -> aioredis.Redis: ...

    @property
    def embedder(self) -> Embedder: ...

    @property
    def llm(self) -> OpenAIProvider | None: ...

    @property
    def devices(self) -> Devices: ...

    @property
    def health_store(self) -> HealthStore: ...
