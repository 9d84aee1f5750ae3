"""Chat jobs: queued and retried replies, and session summaries written by the model.
Idempotent: they take ids, a message that already has a reply is not answered twice,
and a summary is rewritten whole. (The extractive summary is cheap and written inline,
every tenth message and at the session's end; see wellcoach/chat/summaries.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from rq import Retry

from jobs.queues import DEFAULT, HIGH, queue, shared_connection
from wellcoach.audit import RequestContext
from wellcoach.chat import service
from wellcoach.chat.repository import find_message
from wellcoach.config import Settings
from wellcoach.models import User
from wellcoach.platform import Platform, run_with_platform

REPLY_RETRY_INTERVALS = [5, 30, 120]
SUMMARY_RETRY_INTERVALS = [30, 300, 1800]


class SummaryFailed(RuntimeError):
    """Every model failed; RQ retries the job later."""


def _enqueue(
    redis_url: str, queue_name: str, func: Callable[..., object], *args: str,
    job_id: str, retries: list[int],
) -> None:  # fmt: skip
    """Enqueue with the process's shared Redis client (a turn queued under load must not
    pay for a new connection); the job id makes a job's repeats one job."""
    queue(queue_name, shared_connection(redis_url)).enqueue(
        func, *args, job_id=job_id, retry=Retry(max=len(retries), interval=retries)
    )


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


def enqueue_reply(redis_url: str, user_id: uuid.UUID, message_id: uuid.UUID) -> None:
    """Queue the reply to a stored message (sync: call it through a thread from async
    code). The job id is the message's, and the job answers a message once."""
    _enqueue(
        redis_url, HIGH, generate_reply_job, str(user_id), str(message_id),
        job_id=f"reply-{message_id}", retries=REPLY_RETRY_INTERVALS,
    )  # fmt: skip


def generate_reply_job(user_id: str, message_id: str) -> str | None:
    """Answer a stored user message and push the reply to the user's devices."""

    async def work(platform: Platform) -> str | None:
        from api.realtime import emit_to_user

        async with platform.unit_of_work() as session:
            user = await session.get(User, uuid.UUID(user_id))
            message = await find_message(session, uuid.UUID(user_id), uuid.UUID(message_id))
            if user is None or message is None:
                return None
            reply, _ = await service.respond(
                session, platform, user, message, request=RequestContext(source="job")
            )
            out = await service.message_out(session, platform.vault, reply)
        await emit_to_user(
            platform, user_id, "reply_done", {"message": out.model_dump(mode="json")}
        )
        return str(reply.id)

    return run_with_platform(work)


def enqueue_summary(redis_url: str, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """Queue the model-written summary of a session (sync: call it through a thread)."""
    _enqueue(
        redis_url, DEFAULT, summarize_session_job, str(user_id), str(session_id),
        job_id=f"summary-{session_id}", retries=SUMMARY_RETRY_INTERVALS,
    )  # fmt: skip


def summarize_session_job(user_id: str, session_id: str) -> str:
    """Ask the model for a session's summary; the extractive one stays if it fails."""
    from wellcoach.chat.generation import openai_for
    from wellcoach.chat.summaries import model_summaries_enabled, write_model_summary

    async def work(platform: Platform) -> str:
        from api.realtime import emit_to_user

        if not model_summaries_enabled(platform):
            return "nothing"
        async with platform.unit_of_work() as session:  # commits the ledger rows too
            outcome, summary = await write_model_summary(
                session, platform, openai_for(platform), uuid.UUID(user_id), uuid.UUID(session_id)
            )
        if summary is not None:
            await emit_to_user(
                platform, user_id, "session_summary", {"session_id": session_id, "summary": summary}
            )
        return outcome

    outcome = run_with_platform(work)
    if outcome == "failed":
        raise SummaryFailed(f"no model could summarise session {session_id}")
    return outcome
