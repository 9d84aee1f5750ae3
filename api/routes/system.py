"""Liveness, readiness, metrics and service metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

import wellcoach
from api.deps import PlatformDep
from wellcoach.llm.selection import provider_name
from wellcoach.ops.health import run_checks

router = APIRouter(tags=["system"])
v1 = APIRouter(tags=["system"])


class HealthOut(BaseModel):
    status: str
    checks: dict[str, dict[str, Any]]
    timestamp: datetime


class ReadyOut(BaseModel):
    ready: bool
    checks: dict[str, dict[str, Any]]


class MetaOut(BaseModel):
    name: str
    version: str
    api_version: str
    llm_provider: str


@router.get("/health", response_model=HealthOut)
async def health(platform: PlatformDep) -> dict[str, Any]:
    """Every dependency with its state; `degraded` names the failing checks."""
    return (await run_checks(platform)).as_dict()


@router.get("/ready", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
async def ready(platform: PlatformDep, response: Response) -> dict[str, Any]:
    """Ready when the database and Redis answer; 503 tells a balancer to route elsewhere."""
    report = await run_checks(platform)
    if not report.ready:
        response.status_code = 503
    return {"ready": report.ready, "checks": report.checks}


@router.get("/metrics", response_class=Response, include_in_schema=True)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@v1.get("/meta", response_model=MetaOut)
async def meta(platform: PlatformDep) -> dict[str, str]:
    return {
        "name": "wellcoach",
        "version": wellcoach.__version__,
        "api_version": "v1",
        "llm_provider": provider_name(platform.settings),
    }
