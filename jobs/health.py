"""Health jobs: Apple Health imports uploaded to the API, and the sweep that queues again
an import whose job was lost (Redis down at upload, a worker killed mid-import)."""

from __future__ import annotations

import gc
import uuid

from jobs.queues import DEFAULT, enqueue
from wellcoach.health.imports import run_upload, stale_imports, sweep_uploads
from wellcoach.platform import Platform, run_with_platform

IMPORT_RETRY_INTERVALS = [30, 300]


def enqueue_import(redis_url: str, import_id: uuid.UUID, attempt: int = 0) -> None:
    enqueue(
        redis_url,
        DEFAULT,
        import_upload_job,
        str(import_id),
        job_id=f"health-import-{import_id}" + (f"-{attempt}" if attempt else ""),
        retries=IMPORT_RETRY_INTERVALS,
        timeout=4 * 3600,
    )


def import_upload_job(import_id: str) -> dict[str, object]:
    gc.collect()  # what the work horse inherited stays out of the collector's walks
    gc.freeze()

    async def work(platform: Platform) -> dict[str, object]:
        job = await run_upload(
            platform.unit_of_work,
            platform.vault,
            platform.health_store,
            platform.redis,
            platform.settings.health_upload_path,
            uuid.UUID(import_id),
        )
        return {"status": job.status.value, "samples_stored": job.samples_stored}

    return run_with_platform(work)


def requeue_imports_job() -> int:
    async def work(platform: Platform) -> int:
        async with platform.unit_of_work() as session:
            found = await stale_imports(session)
        async with platform.unit_of_work() as session:
            await sweep_uploads(session, platform.settings.health_upload_path)
        for import_id, attempts in found:
            enqueue_import(platform.urls.redis_url, import_id, attempt=attempts + 1)
        return len(found)

    return run_with_platform(work)
