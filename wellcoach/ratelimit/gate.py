"""The API gateway's limits: every policy a request meets, decided in one Redis call.

A request meets several policies at once (the global one per IP, the user's daily
quota, the route's own). They are checked and counted by one Lua script, atomically:
either every policy has room and each counts the request, or the request is refused
and none counts it (a refused request never eats a quota). One round trip per request
whatever the number of policies, and the same answer from any number of API processes.

Two windows:
- a **sliding window counter** for rolling limits ("20 per hour"): the count of the
  current fixed bucket plus the previous bucket's, weighted by how much of it still
  lies inside the window. O(1) memory per key; exact within a bucket, and across a
  bucket boundary it assumes the previous bucket's requests were evenly spread;
- a **calendar day** for quotas ("100 per day"), which all reset at midnight UTC.

Time comes from the caller's clock (`clock`), not Redis's, so tests can move it; API
processes are expected to keep their clocks in sync (NTP), as JWT expiry already needs.

When Redis cannot answer, policies that fail open let the request through (logged,
and `/health` reports Redis down) and policies that fail closed refuse it with 503. A
short circuit breaker stops every request from waiting on a dead Redis.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from wellcoach.errors import RateLimited, ServiceUnavailable

log = structlog.get_logger(__name__)

DAY = 86_400

# KEYS: two per check (its current bucket, its previous bucket)
# ARGV: for each check: limit, cost, weight of the previous bucket (0..1), ttl in ms
# Returns, for each check, the current and previous counts before this request, then 1
# when every check had room (and all were counted) else 0.
GATE_SCRIPT = """
local counts = {}
local allowed = 1
for i = 1, #KEYS / 2 do
  local base = (i - 1) * 4
  local limit = tonumber(ARGV[base + 1])
  local cost = tonumber(ARGV[base + 2])
  local weight = tonumber(ARGV[base + 3])
  local current = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local previous = 0
  if weight > 0 then
    previous = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  end
  if current + math.floor(previous * weight) + cost > limit then
    allowed = 0
  end
  counts[2 * i - 1] = current
  counts[2 * i] = previous
end
if allowed == 1 then
  for i = 1, #KEYS / 2 do
    local base = (i - 1) * 4
    redis.call('INCRBY', KEYS[2 * i - 1], tonumber(ARGV[base + 2]))
    redis.call('PEXPIRE', KEYS[2 * i - 1], tonumber(ARGV[base + 4]))
  end
end
counts[#counts + 1] = allowed
return counts
"""


@dataclass(frozen=True)
class Policy:
    """One row of the gateway's table: `limit` requests per `window_seconds` (or per
    calendar day, UTC) per identifier."""

    name: str
    limit: int
    window_seconds: int
    per: Literal["ip", "user"]
    calendar_day: bool = False
    fail_closed: bool = False

    @property
    def window_label(self) -> str:
        if self.calendar_day:
            return "day (resets at midnight UTC)"
        return _duration(self.window_seconds)


@dataclass(frozen=True)
class Check:
    policy: Policy
    identifier: str
    cost: int = 1


@dataclass(frozen=True)
class Usage:
    """One policy's state for one identifier, after (or, when peeked, before) a request."""

    policy: Policy
    allowed: bool
    used: int
    remaining: int
    reset_after: int  # seconds until a refused request would fit (or the window ends)
    retry_after: int  # seconds until one more request fits; 0 when one fits now

    def as_dict(self) -> dict[str, object]:
        return {
            "policy": self.policy.name,
            "limit": self.policy.limit,
            "window": self.policy.window_label,
            "used": self.used,
            "remaining": self.remaining,
            "reset_after": self.reset_after,
        }


@dataclass(frozen=True)
class Decision:
    allowed: bool
    usages: tuple[Usage, ...]
    degraded: bool = False  # Redis did not answer and the request was let through
    # (key, cost) of what was counted, for `Gate.refund`
    charged: tuple[tuple[str, int], ...] = ()

    @property
    def counted(self) -> bool:
        return bool(self.charged)

    @property
    def refused_by(self) -> Usage | None:
        return next((usage for usage in self.usages if not usage.allowed), None)

    @property
    def binding(self) -> Usage | None:
        """What the RateLimit-* headers describe: the policy that refuses, else the one
        closest to refusing."""
        if not self.usages:
            return None
        return self.refused_by or min(
            self.usages, key=lambda usage: (usage.remaining, -usage.reset_after)
        )

    def headers(self) -> dict[str, str]:
        """IETF RateLimit header fields (draft 7 style) and, when refused, Retry-After."""
        usage = self.binding
        if usage is None:
            return {}
        headers = {
            "RateLimit-Limit": str(usage.policy.limit),
            "RateLimit-Remaining": str(usage.remaining),
            "RateLimit-Reset": str(usage.reset_after),
            "RateLimit-Policy": ", ".join(
                f'{u.policy.limit};w={_window(u.policy)};policy="{u.policy.name}"'
                for u in self.usages
            ),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, usage.retry_after))
        return headers

    def raise_if_refused(self) -> None:
        usage = self.refused_by
        if usage is None:
            return
        retry_after = max(1, usage.retry_after)
        raise RateLimited(
            f"Too many requests: the {usage.policy.name} limit is {usage.policy.limit} per"
            f" {usage.policy.window_label}; try again in {retry_after} s.",
            retry_after=retry_after,
            details={**usage.as_dict(), "retry_after": retry_after},
            headers=self.headers(),
        )


class Gate:
    """Checks and counts requests against policies in Redis."""

    def __init__(
        self,
        redis_url: str,
        *,
        namespace: str = "wellcoach",
        clock: Callable[[], float] = time.time,
        timeout_seconds: float = 0.5,
        breaker_seconds: float = 2.0,
    ) -> None:
        self._redis = aioredis.Redis.from_url(
            redis_url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            max_connections=64,
        )
        self._script = self._redis.register_script(GATE_SCRIPT)
        self._prefix = f"{namespace}:rl:gate"
        self.clock = clock
        self._breaker_seconds = breaker_seconds
        self._closed_until = 0.0  # monotonic time before which Redis is not tried

    async def close(self) -> None:
        await self._redis.aclose()

    async def check(self, checks: Sequence[Check]) -> Decision:
        """Count one request against every check, or against none if one refuses."""
        if not checks:
            return Decision(True, ())
        now = self.clock()
        plans = [_plan(check, now, self._prefix) for check in checks]
        try:
            raw = await self._call([key for plan in plans for key in plan.keys], plans)
        except (RedisError, OSError) as exc:
            return self._unavailable(checks, exc)
        allowed = bool(raw[-1])
        # refused: only the policies without room refuse; the others were not counted
        usages = tuple(
            plan.usage(raw[2 * i], raw[2 * i + 1], counted=allowed) for i, plan in enumerate(plans)
        )
        charged = tuple((plan.keys[0], plan.check.cost) for plan in plans) if allowed else ()
        return Decision(allowed, usages, charged=charged)

    async def refund(self, decision: Decision) -> None:
        """Give back what a request was counted (the server failed to serve it). Best
        effort: a Redis that does not answer keeps the count."""
        if not decision.charged:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, cost in decision.charged:
                    pipe.decrby(key, cost)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("rate_limit_refund_failed", error=type(exc).__name__)

    async def peek(self, checks: Sequence[Check]) -> tuple[Usage, ...]:
        """The state of each check without counting anything (`wellcoach limits show`)."""
        now = self.clock()
        plans = [_plan(Check(c.policy, c.identifier, 0), now, self._prefix) for c in checks]
        keys = [key for plan in plans for key in plan.keys]
        try:
            values = await self._redis.mget(keys) if keys else []
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable("rate limits cannot be read: Redis does not answer") from exc
        return tuple(
            plan.usage(int(values[2 * i] or 0), int(values[2 * i + 1] or 0), counted=False)
            for i, plan in enumerate(plans)
        )

    async def reset(self, checks: Sequence[Check]) -> int:
        """Forget what the checks' identifiers used; returns the keys deleted."""
        keys: list[str] = []
        for check in checks:
            keys.extend(await self._keys_of(check))
        try:
            return int(await self._redis.delete(*keys)) if keys else 0
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable("rate limits cannot be reset: Redis does not answer") from exc

    async def forget_identifier(self, identifier: str) -> int:
        """Delete every key of one identifier, whatever the policy (account erasure)."""
        deleted = 0
        async for key in self._redis.scan_iter(match=f"{self._prefix}:*:{identifier}:*"):
            deleted += int(await self._redis.delete(key))
        return deleted

    async def _keys_of(self, check: Check) -> list[str]:
        pattern = f"{self._prefix}:{check.policy.name}:{check.identifier}:*"
        return [key.decode() async for key in self._redis.scan_iter(match=pattern)]

    async def _call(self, keys: list[str], plans: list[_Plan]) -> list[int]:
        if time.monotonic() < self._closed_until:
            raise RedisError("circuit open after a recent failure")
        args: list[int | float] = []
        for plan in plans:
            args.extend((plan.check.policy.limit, plan.check.cost, plan.weight, plan.ttl_ms))
        try:
            result = await self._script(keys=keys, args=args)
        except (RedisError, OSError):
            self._closed_until = time.monotonic() + self._breaker_seconds
            raise
        return [int(value) for value in result]

    def _unavailable(self, checks: Sequence[Check], exc: Exception) -> Decision:
        closed = [check.policy.name for check in checks if check.policy.fail_closed]
        log.warning(
            "rate_limit_unavailable",
            policies=[check.policy.name for check in checks],
            failing_closed=closed,
            error=type(exc).__name__,
        )
        if closed:
            raise ServiceUnavailable(
                "rate limiting is unavailable, so this action is refused for safety"
            ) from exc
        return Decision(True, (), degraded=True)


@dataclass(frozen=True)
class _Plan:
    """Where one check's counts live at `now`, and how to read them."""

    check: Check
    keys: tuple[str, str]
    weight: float  # of the previous bucket
    elapsed: float  # seconds into the current bucket
    bucket_seconds: float
    ttl_ms: int

    def usage(self, current: int, previous: int, *, counted: bool) -> Usage:
        """The policy's state from the counts read before this request; `counted`: the
        request was counted (every policy had room)."""
        policy, cost = self.check.policy, self.check.cost
        estimate = current + math.floor(previous * self.weight)
        used = estimate + (cost if counted else 0)
        retry_after = self._wait(current + (cost if counted else 0), previous)
        window_left = math.ceil(self.bucket_seconds - self.elapsed)
        return Usage(
            policy=policy,
            allowed=estimate + cost <= policy.limit,
            used=used,
            remaining=max(0, policy.limit - used),
            reset_after=retry_after if used >= policy.limit else window_left,
            retry_after=retry_after,
        )

    def _wait(self, current: int, previous: int) -> int:
        """Seconds until one more request fits, if nothing else is sent meanwhile."""
        limit, window, elapsed = self.check.policy.limit, self.bucket_seconds, self.elapsed
        room = limit - current - 1  # what the previous bucket's share may still be
        if room >= 0:
            share = previous * self.weight
            if math.floor(share) <= room:
                return 0
            # previous * (1 - (elapsed + t) / window) must drop below room + 1 (strictly:
            # the first whole second after)
            return max(1, math.floor(window * (1 - (room + 1) / previous) - elapsed) + 1)
        to_next = window - elapsed
        if self.check.policy.calendar_day:
            return max(1, math.ceil(to_next))
        # in the next bucket this one weighs current * (1 - s / window), which must drop
        # below the limit (strictly: the first whole second after)
        return max(1, math.floor(to_next + max(0.0, window * (1 - limit / current))) + 1)


def _plan(check: Check, now: float, prefix: str) -> _Plan:
    policy = check.policy
    base = f"{prefix}:{policy.name}:{check.identifier}"
    if policy.calendar_day:
        day = datetime.fromtimestamp(now, UTC).date()
        midnight = datetime.combine(day, datetime.min.time(), UTC).timestamp()
        key = f"{base}:{day.isoformat()}"
        return _Plan(check, (key, key), 0.0, now - midnight, DAY, (DAY + 3600) * 1000)
    window = policy.window_seconds
    bucket = math.floor(now / window)
    elapsed = now - bucket * window
    return _Plan(
        check,
        (f"{base}:{bucket}", f"{base}:{bucket - 1}"),
        max(0.0, 1.0 - elapsed / window),
        elapsed,
        window,
        window * 2 * 1000 + 1000,
    )


def _window(policy: Policy) -> int:
    return DAY if policy.calendar_day else policy.window_seconds


def _duration(seconds: int) -> str:
    for unit, size in (("week", 7 * DAY), ("day", DAY), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds} seconds"


def seconds_until_midnight_utc(now: float) -> int:
    day = datetime.fromtimestamp(now, UTC).date() + timedelta(days=1)
    return math.ceil(datetime.combine(day, datetime.min.time(), UTC).timestamp() - now)
