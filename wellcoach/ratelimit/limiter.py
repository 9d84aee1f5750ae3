"""A thin policy layer over `limits`' moving window (a true sliding window).

Each call names a rule ("5/10minutes") and the identifiers it counts by. When
Redis does not answer, the caller chooses: fail open (serve, and say so in the
logs) or fail closed (refuse with 503) — login fails closed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import structlog
from limits import parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from wellcoach.errors import RateLimited, ServiceUnavailable

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until a slot frees up
    degraded: bool = False  # Redis was down and we failed open

    def headers(self) -> dict[str, str]:
        """IETF RateLimit-* headers (and Retry-After when refused)."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_after)
        return headers


class RateLimiter:
    def __init__(self, redis_url: str, namespace: str = "wellcoach") -> None:
        # one key prefix per strategy: two strategies on one key would clash (WRONGTYPE)
        self._storage = RedisStorage(
            "async+" + redis_url,
            implementation="redispy",
            key_prefix=f"{namespace}:rl:mw",
            wrap_exceptions=True,
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
        )
        self._strategy = MovingWindowRateLimiter(self._storage)

    async def hit(
        self, rule: str, *identifiers: str, fail_open: bool = True, cost: int = 1
    ) -> Decision:
        item = parse(rule)
        try:
            allowed = await self._strategy.hit(item, *identifiers, cost=cost)
            stats = await self._strategy.get_window_stats(item, *identifiers)
        except Exception as exc:  # the storage is down or misbehaving
            if not fail_open:
                raise ServiceUnavailable(
                    "rate limiting is unavailable, so this action is refused for safety"
                ) from exc
            log.warning("rate_limit_fail_open", rule=rule, error=type(exc).__name__)
            return Decision(True, item.amount, item.amount, 0, degraded=True)
        reset_after = max(0, math.ceil(stats.reset_time - time.time()))
        return Decision(allowed, item.amount, stats.remaining, reset_after)

    async def enforce(
        self, rule: str, *identifiers: str, fail_open: bool = True, cost: int = 1
    ) -> Decision:
        """Like `hit`, but raise `RateLimited` when refused."""
        decision = await self.hit(rule, *identifiers, fail_open=fail_open, cost=cost)
        if not decision.allowed:
            raise RateLimited(
                "Too many attempts; try again later.",
                retry_after=max(1, decision.reset_after),
                details={"limit": decision.limit, "retry_after": max(1, decision.reset_after)},
            )
        return decision

    async def peek(self, rule: str, *identifiers: str) -> int:
        """Remaining slots without consuming one (for checks before an expensive step)."""
        item = parse(rule)
        try:
            stats = await self._strategy.get_window_stats(item, *identifiers)
        except Exception as exc:
            raise ServiceUnavailable("rate limiting is unavailable") from exc
        return stats.remaining

    async def reset(self, rule: str, *identifiers: str) -> None:
        await self._strategy.clear(parse(rule), *identifiers)
