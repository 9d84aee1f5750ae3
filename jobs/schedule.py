"""`wellcoach cron`: enqueue the periodic jobs of `jobs.maintenance.SCHEDULE` when due.

rq's own CronScheduler enqueues with the pickle serializer; our queues speak JSON
(jobs/queues.py), so this small loop enqueues through them instead. One scheduler
process runs per deployment; a job that is due while the previous run of it is still
queued is not queued twice (its job id is its name).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import redis
import structlog

from jobs.queues import LOW, queue

log = structlog.get_logger(__name__)

PENDING = ("queued", "started", "scheduled", "deferred")
Schedule = Sequence[tuple[Callable[[], object], int]]


def run(
    connection: redis.Redis,
    schedule: Schedule,
    *,
    stop: Callable[[], bool] = lambda: False,
    tick: float = 1.0,
) -> None:
    """Enqueue each job every `interval` seconds (the first time at once) until `stop()`."""
    low = queue(LOW, connection)
    due = {func: 0.0 for func, _ in schedule}
    while not stop():
        now = time.monotonic()
        for func, interval in schedule:
            if now < due[func]:
                continue
            job_id = f"cron-{func.__name__}"
            try:
                existing = low.fetch_job(job_id)
                if existing is None or existing.get_status(refresh=True) not in (
                    "queued",
                    "started",
                ):
                    low.enqueue(func, job_id=job_id)
                due[func] = now + interval
            except redis.RedisError:
                log.warning("cron_enqueue_failed", job=func.__name__)
                due[func] = now + min(interval, 5)  # Redis is back soon, or supervised
        time.sleep(tick)
