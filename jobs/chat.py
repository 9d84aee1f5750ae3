"""Chat jobs: queued and retried replies, and session summaries written by the model.
Idempotent: they take ids, a message that already has a reply is not answered twice,
and a summary is rewritten whole. (The extractive summary is cheap and written inline,
every tenth message and at the session's end; see wellcoach/chat/summaries.py.)

`RqChatJobs` is the queue the core's chat use cases ask for (`wellcoach.chat.turns.ChatJobs`).
"""

from __future__ import annotations

import asyncio
import uuid

from redis.exceptions import RedisError

from jobs.queues import DEFAULT, HIGH, enqueue
from wellcoach.chat.turns import (
    QueueUnavailable,
    answer_queued,
    requeue_unanswered,
    summarize_session,
)
from wellcoach.config import Settings
from wellcoach.platform import Platform, run_with_platform

REPLY_RETRY_INTERVALS = [5, 30, 120]
SUMMARY_RETRY_INTERVALS = [30, 300, 1800]


class SummaryFailed(RuntimeError):
    """Every model failed; RQ retries the job later."""


def preload(settings: Settings) -> None:
    """Load the offline models in the worker before it forks: RQ runs each job in a fresh
    work horse, which otherwise loads the embedder and the crisis classifier itself
    (~1.5 s) before answering. Forked horses share the parent's copy."""
    from wellcoach.chat.safety.semantic import layer
    from wellcoach.rag.embedders import UseEmbedder, make_embedder

    layer().classifier()
    layer().embed("warm up")
    embedder = make_embedder(settings)
    if isinstance(embedder, UseEmbedder):
        embedder.embed_sync(["warm up"])


def enqueue_reply(
    redis_url: str, user_id: uuid.UUID, message_id: uuid.UUID, attempt: int = 0
) -> None:
    """Queue the reply to a stored message (sync). The job id is the message's (with the
    sweep's attempt number when the sweep queues it again); the job answers a message
    once."""
    enqueue(
        redis_url,
        HIGH,
        generate_reply_job,
        str(user_id),
        str(message_id),
        job_id=f"reply-{message_id}" + (f"-{attempt}" if attempt else ""),
        retries=REPLY_RETRY_INTERVALS,
    )


def enqueue_summary(redis_url: str, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """Queue the model-written summary of a session (sync)."""
    enqueue(
        redis_url,
        DEFAULT,
        summarize_session_job,
        str(user_id),
        str(session_id),
        job_id=f"summary-{session_id}",
        retries=SUMMARY_RETRY_INTERVALS,
    )


class RqChatJobs:
    """The chat use cases' job queue, on RQ. RQ's client is synchronous: it runs in a
    thread, and a Redis error becomes the core's `QueueUnavailable`."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url

    async def enqueue_reply(
        self, user_id: uuid.UUID, message_id: uuid.UUID, attempt: int = 0
    ) -> None:
        try:
            await asyncio.to_thread(enqueue_reply, self.redis_url, user_id, message_id, attempt)
        except RedisError as exc:
            raise QueueUnavailable() from exc

    async def enqueue_summary(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        try:
            await asyncio.to_thread(enqueue_summary, self.redis_url, user_id, session_id)
        except RedisError as exc:
            raise QueueUnavailable() from exc


def generate_reply_job(user_id: str, message_id: str) -> str | None:
    """Answer a stored user message and push the reply to the user's devices."""

    async def work(platform: Platform) -> str | None:
        reply = await answer_queued(
            platform, platform.unit_of_work, uuid.UUID(user_id), uuid.UUID(message_id)
        )
        return str(reply.id) if reply is not None else None

    return run_with_platform(work)


def summarize_session_job(user_id: str, session_id: str) -> str:
    """Ask the model for a session's summary; the extractive one stays if it fails."""

    async def work(platform: Platform) -> str:
        return await summarize_session(
            platform, platform.unit_of_work, uuid.UUID(user_id), uuid.UUID(session_id)
        )

    outcome = run_with_platform(work)
    if outcome == "failed":
        raise SummaryFailed(f"no model could summarise session {session_id}")
    return outcome


def requeue_unanswered_job() -> int:
    """Queue again the turns whose answer was lost (see `requeue_unanswered`)."""

    async def work(platform: Platform) -> int:
        async with platform.unit_of_work() as session:
            return await requeue_unanswered(session, RqChatJobs(platform.urls.redis_url))

    return run_with_platform(work)
