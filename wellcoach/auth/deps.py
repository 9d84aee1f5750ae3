"""What the auth domain needs from the platform, named as a Protocol (see
`wellcoach.chat.deps`): `wellcoach.platform.Platform` satisfies it."""

from __future__ import annotations

from typing import Protocol

import redis.asyncio as aioredis

from wellcoach.auth.signing import Signer
from wellcoach.config import Settings
from wellcoach.crypto import Vault
from wellcoach.ratelimit import RateLimiter


class AuthServices(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def vault(self) -> Vault: ...

    @property
    def redis(self) -> aioredis.Redis: ...

    @property
    def limiter(self) -> RateLimiter: ...

    @property
    def signer(self) -> Signer: ...
