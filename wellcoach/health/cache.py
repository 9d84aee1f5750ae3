"""Health summaries cached in Redis for 30 minutes (SPEC.md `health:summary:{user_id}`),
sealed with the user's key like every other copy of their health data. New data bumps
the user's generation, so a summary is never served past a sync. Redis being down only
costs the cache."""

from __future__ import annotations

import time
import uuid
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis import exceptions as redis_errors
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.crypto import Vault

TTL_SECONDS = 30 * 60
PURPOSE = "health_summary"

log = structlog.get_logger(__name__)


def _generation_key(user_id: uuid.UUID) -> str:
    return f"health:summary:{user_id}:generation"


async def get(
    redis: aioredis.Redis,
    session: AsyncSession,
    vault: Vault,
    user_id: uuid.UUID,
    variant: str,
) -> tuple[dict[str, Any] | None, str]:
    """The cached summary (or None) and the key to store a fresh one under."""
    try:
        generation = await redis.get(_generation_key(user_id))
        key = f"health:summary:{user_id}:{_text(generation)}:{variant}"
        sealed = await redis.get(key)
    except (redis_errors.RedisError, OSError):
        log.warning("health.summary_cache_unavailable", user_id=str(user_id))
        return None, ""
    if sealed is None:
        return None, key
    blob = sealed.encode() if isinstance(sealed, str) else sealed
    return await vault.open_json(session, user_id, blob, purpose=PURPOSE), key


def _text(value: bytes | str | None) -> str:
    if value is None:
        return "0"
    return value.decode() if isinstance(value, bytes) else value


async def put(
    redis: aioredis.Redis,
    session: AsyncSession,
    vault: Vault,
    user_id: uuid.UUID,
    key: str,
    summary: dict[str, Any],
) -> None:
    if not key:
        return
    sealed = await vault.seal_json(session, user_id, summary, purpose=PURPOSE)
    try:
        await redis.set(key, sealed, ex=TTL_SECONDS)
    except (redis_errors.RedisError, OSError):
        log.warning("health.summary_cache_unavailable", user_id=str(user_id))


async def invalidate(redis: aioredis.Redis, user_id: uuid.UUID) -> None:
    """New data: every cached summary of the user is stale. A generation is never reused
    (it is a clock reading), and it outlives the summaries cached under it, so a summary
    from before this call cannot be read again."""
    try:
        await redis.set(_generation_key(user_id), time.time_ns(), ex=TTL_SECONDS * 2)
    except (redis_errors.RedisError, OSError):
        log.warning("health.summary_cache_unavailable", user_id=str(user_id))
