"""/v1/health: the app syncs HealthKit / Health Connect samples, uploads an Apple Health
export, and reads the user's health summary. Everything needs a verified email and the
health_data consent."""

from __future__ import annotations

import asyncio
from typing import Annotated

import structlog
from fastapi import APIRouter, Query, Request, status

from api.deps import ContextDep, PlatformDep, SessionDep, VerifiedUser
from api.errors import error_responses
from api.gateway import limited
from jobs import health as health_jobs
from wellcoach.health import imports, service
from wellcoach.health.schemas import (
    HealthImportOut,
    HealthSummaryOut,
    HealthSyncIn,
    HealthSyncOut,
)
from wellcoach.models import HealthImport
from wellcoach.text import Uuid

router = APIRouter(
    prefix="/health",
    tags=["health"],
    responses=error_responses(
        401,
        403,
        503,
        why={403: "`email_not_verified`, or `consent_required` (details.consent: health_data)."},
    ),
)
log = structlog.get_logger(__name__)

EXPORT_TYPES = ("application/zip", "application/xml", "text/xml", "application/octet-stream")


@router.post(
    "/metrics",
    response_model=HealthSyncOut,
    openapi_extra=limited("health_sync"),
    responses=error_responses(
        400,
        422,
        429,
        why={
            400: "`invalid_health_metrics`: `details.errors` lists each offending metric's"
            " `index`, `field`, `code` (out_of_range, unknown_unit, unknown_metric_type,"
            " end_before_start, in_the_future, ...) and `message`; nothing was stored.",
        },
    ),
)
async def sync_metrics(
    body: HealthSyncIn,
    user: VerifiedUser,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
) -> HealthSyncOut:
    """Store up to 10,000 HealthMetric readings. Types and units may be HealthKit's or
    Health Connect's; they are stored in canonical units. Sending a batch again stores
    nothing twice (the key is user, type, start, end and source). At most 10 syncs an
    hour (`health_sync` policy)."""
    outcome = await service.sync(
        session,
        platform.vault,
        platform.health_store,
        platform.redis,
        user,
        body.metrics,
        request=context,
    )
    return HealthSyncOut(
        received=outcome.received, stored=outcome.stored, duplicates=outcome.duplicates
    )


@router.get("/summary", response_model=HealthSummaryOut, responses=error_responses(400, 422))
async def get_summary(
    user: VerifiedUser,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
    days: Annotated[int, Query(ge=1, le=service.MAX_DAYS)] = 7,
) -> HealthSummaryOut:
    """The last `days` days (today included, in the profile's time zone): per day and
    over the window, with health alerts against the user's 28-day baseline. Cached for
    30 minutes; new data refreshes it."""
    found = await service.summary(
        session,
        platform.vault,
        platform.health_store,
        platform.redis,
        user,
        days,
        request=context,
    )
    return HealthSummaryOut.model_validate(found)


def _import_out(job: HealthImport) -> HealthImportOut:
    return HealthImportOut(
        id=job.id,
        status=job.status,
        progress=imports.progress_of(job),
        size_bytes=job.size_bytes,
        records_seen=job.records_seen,
        samples_stored=job.samples_stored,
        duplicates=job.duplicates,
        skipped=job.skipped,
        rejected=job.rejected,
        error_code=job.error_code,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@router.post(
    "/imports",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=HealthImportOut,
    openapi_extra={
        **limited("health_sync"),
        "requestBody": {
            "required": True,
            "description": "Apple Health's export.zip (or its export.xml) as the raw body.",
            "content": {
                kind: {"schema": {"type": "string", "format": "binary"}} for kind in EXPORT_TYPES
            },
        },
    },
    responses=error_responses(
        400,
        413,
        415,
        429,
        why={
            400: "`invalid_health_export`: empty.",
            413: "`payload_too_large`: larger than the limit (2 GiB by default).",
            415: "`unsupported_media_type`: send application/zip or application/xml.",
        },
    ),
)
async def upload_export(
    request: Request,
    user: VerifiedUser,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
) -> HealthImportOut:
    """Upload an Apple Health export; a worker imports it (poll
    `GET /v1/health/imports/{id}` for progress). The upload is sealed with your key as
    it arrives and deleted once imported."""
    kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if kind not in EXPORT_TYPES:
        raise imports.UnsupportedExportType(details={"accepted": list(EXPORT_TYPES)})
    max_bytes = platform.settings.health.max_upload_mb << 20
    declared = request.headers.get("content-length")
    imports.check_size(int(declared) if declared and declared.isdigit() else None, max_bytes)
    job = await imports.receive_upload(
        session,
        platform.vault,
        platform.settings.health_upload_path,
        user,
        request.stream(),
        max_bytes=max_bytes,
        request=context,
    )
    out = _import_out(job)
    await session.commit()  # the worker must find it
    try:
        await asyncio.to_thread(health_jobs.enqueue_import, platform.urls.redis_url, job.id)
    except Exception:  # the sweep queues pending imports again
        log.warning("health.import_enqueue_failed", import_id=str(job.id))
    return out


@router.get(
    "/imports/{import_id}", response_model=HealthImportOut, responses=error_responses(404, 422)
)
async def get_import(import_id: Uuid, user: VerifiedUser, session: SessionDep) -> HealthImportOut:
    """An import's status and progress (0 to 1), and what it stored."""
    return _import_out(await imports.import_of(session, user, import_id))
