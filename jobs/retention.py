"""GDPR retention, run daily by `wellcoach cron`: what outlived its period is removed."""

from __future__ import annotations

from wellcoach.db.base import utcnow
from wellcoach.gdpr.retention import apply_retention
from wellcoach.platform import Platform, run_with_platform


def apply_retention_job() -> dict[str, int]:
    """Drop expired message partitions, delete expired audit entries and sent emails:
    the counts (the audit entry `retention.applied` has them too)."""

    async def work(platform: Platform) -> dict[str, int]:
        async with platform.unit_of_work() as session:
            return await apply_retention(session, platform.settings.gdpr, now=utcnow())

    return run_with_platform(work)
