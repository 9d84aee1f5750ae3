"""The response cache. It never leaks: an answer is cached only when the prompt that
produced it held no personal data (no history, no mood, no health context), and a
crisis turn is never cached. The key covers everything else that shapes the answer."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

PREFIX = "wellcoach:response-cache:v1:"


# bumped when the same prompt would now get another answer from the same model name
# (2: the offline composer's rewrite, 2026-12): older entries are never served again
KEY_VERSION = "2"


@dataclass(frozen=True)
class CacheKey:
    query: str
    personality: str
    language: str
    sport: str | None
    kb_version: str
    model: str

    def digest(self) -> str:
        normalized = re.sub(r"[^\w\s]", "", self.query.casefold())
        parts = [
            KEY_VERSION,
            " ".join(normalized.split()),
            self.personality,
            self.language,
            self.sport or "-",
            self.kb_version,
            self.model,
        ]
        return PREFIX + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def get(redis: Redis, key: CacheKey) -> dict[str, Any] | None:
    try:
        raw = await redis.get(key.digest())
    except RedisError:
        return None  # the cache is an optimisation: without Redis we generate
    return json.loads(raw) if raw else None


async def put(redis: Redis, key: CacheKey, value: dict[str, Any], ttl_seconds: int) -> None:
    try:
        await redis.set(key.digest(), json.dumps(value), ex=ttl_seconds)
    except RedisError:
        return
