"""Webhook delivery jobs: one job per delivery, retried by RQ with exponential backoff
(`Retry` needs the worker's scheduler, which `wellcoach worker` runs); the delivery row
decides, so a duplicate or late job does nothing. After the last attempt the delivery
is dead: `wellcoach webhooks dead` lists it and `wellcoach webhooks retry ID` revives it.

`RqWebhookQueue` is the queue the core's `emit` asks for (`WebhookQueue`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from rq import Retry

from jobs.queues import DEFAULT, queue, shared_connection
from wellcoach.config import WebhookSettings
from wellcoach.notify.webhooks import deliver, lost_deliveries, retry_intervals
from wellcoach.platform import Platform, run_with_platform


class DeliveryFailed(RuntimeError):
    """The receiver did not answer 2xx; RQ tries again later."""


class RqWebhookQueue:
    """Enqueues one delivery job per id (sync redis-py, as RQ is)."""

    def __init__(self, redis_url: str, webhooks: WebhookSettings) -> None:
        self.redis_url = redis_url
        self.intervals = retry_intervals(webhooks)

    def enqueue(self, delivery_ids: Sequence[uuid.UUID]) -> None:
        target = queue(DEFAULT, shared_connection(self.redis_url))
        retry = Retry(max=len(self.intervals), interval=self.intervals) if self.intervals else None
        for delivery_id in delivery_ids:
            target.enqueue(deliver_webhook_job, str(delivery_id), retry=retry)


def deliver_webhook_job(delivery_id: str) -> str:
    """One attempt at a delivery; raises while attempts remain so that RQ retries."""

    async def work(platform: Platform) -> str:
        async with platform.unit_of_work() as session:
            return await deliver(session, uuid.UUID(delivery_id), platform.settings)

    outcome = run_with_platform(work)
    if outcome == "retry":
        raise DeliveryFailed(f"webhook delivery {delivery_id} failed; retrying later")
    return outcome


def sweep_webhooks_job() -> int:
    """Queue again the pending deliveries whose job was lost; returns how many."""

    async def work(platform: Platform) -> int:
        async with platform.unit_of_work() as session:
            ids = await lost_deliveries(session)
        if ids:
            webhook_queue = RqWebhookQueue(platform.urls.redis_url, platform.settings.webhooks)
            await asyncio.to_thread(webhook_queue.enqueue, ids)
        return len(ids)

    return run_with_platform(work)
