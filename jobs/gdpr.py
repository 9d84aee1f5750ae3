"""GDPR jobs: erasures whose grace period is over are carried out (`wellcoach cron`,
every 10 minutes), and an erased user's queued jobs are dropped."""

from __future__ import annotations

import asyncio
import uuid

import structlog
from redis.exceptions import RedisError

from jobs.queues import ALL_QUEUES, queue, shared_connection
from wellcoach.audit import RequestContext
from wellcoach.gdpr.erasure import ForgetJobs, due_erasures, erase_due
from wellcoach.platform import Platform, run_with_platform

log = structlog.get_logger(__name__)
CRON = RequestContext(source="cron")


def forget_jobs_of(redis_url: str) -> ForgetJobs:
    """`ForgetJobs` for the core: drop the queued jobs whose arguments name the user
    (replies to answer, summaries to write: nothing of theirs runs after the erasure)."""

    def sync(user_id: uuid.UUID) -> int:
        removed = 0
        connection = shared_connection(redis_url)
        try:
            for name in ALL_QUEUES:
                found = queue(name, connection)
                for job in found.get_jobs():
                    if str(user_id) in [str(arg) for arg in job.args or ()]:
                        job.delete()
                        removed += 1
        except RedisError:
            log.warning("gdpr.queue_unavailable", user_id=str(user_id))
        return removed

    async def forget(user_id: uuid.UUID) -> int:
        return await asyncio.to_thread(sync, user_id)

    return forget


def erase_due_job() -> int:
    """Hard-delete every erasure whose grace period is over, each in its own transaction."""

    async def work(platform: Platform) -> int:
        async with platform.unit_of_work() as session:
            due = await due_erasures(session)
        done = 0
        for request_id in due:
            async with platform.unit_of_work() as session:
                if await erase_due(session, platform.vault, request_id, CRON) is not None:
                    done += 1
        return done

    return run_with_platform(work)
