"""GDPR export jobs: build an export a user asked for, and the sweep that deletes
expired export files and queues again an export whose job was lost."""

from __future__ import annotations

import uuid

from jobs.queues import DEFAULT, enqueue
from wellcoach.gdpr.exports import export_directory, run_export, stale_exports, sweep_exports
from wellcoach.platform import Platform, run_with_platform

EXPORT_RETRY_INTERVALS = [60, 600]


def enqueue_export(redis_url: str, request_id: uuid.UUID, attempt: int = 0) -> None:
    enqueue(
        redis_url,
        DEFAULT,
        export_job,
        str(request_id),
        job_id=f"gdpr-export-{request_id}" + (f"-{attempt}" if attempt else ""),
        retries=EXPORT_RETRY_INTERVALS,
        timeout=2 * 3600,
    )


def export_job(request_id: str) -> dict[str, object]:
    async def work(platform: Platform) -> dict[str, object]:
        row = await run_export(
            platform.unit_of_work,
            platform.vault,
            platform.health_store,
            export_directory(platform.settings.data_path),
            uuid.UUID(request_id),
            link_hours=platform.settings.gdpr.export_link_hours,
        )
        return {"status": row.status.value, "error": row.error}

    return run_with_platform(work)


def sweep_exports_job() -> dict[str, int]:
    async def work(platform: Platform) -> dict[str, int]:
        async with platform.unit_of_work() as session:
            found = await stale_exports(session)
        async with platform.unit_of_work() as session:
            deleted = await sweep_exports(session, export_directory(platform.settings.data_path))
        for request_id, attempts in found:
            enqueue_export(platform.urls.redis_url, request_id, attempt=attempts + 1)
        return {"requeued": len(found), "deleted": deleted}

    return run_with_platform(work)
