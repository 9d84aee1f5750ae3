"""Chat jobs: queued and retried replies. Idempotent: they take ids, and a message that
already has a reply is not answered twice. (Session summaries are extractive and cheap:
the turn that crosses every tenth message refreshes them inline.)"""

from __future__ import annotations

import uuid

from wellcoach.audit import RequestContext
from wellcoach.chat import service
from wellcoach.chat.repository import find_message
from wellcoach.config import Settings
from wellcoach.models import User
from wellcoach.platform import Platform, run_with_platform

REPLY_RETRY_INTERVALS = [5, 30, 120]


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
    from rq import Retry

    from jobs.queues import HIGH, queue, shared_connection

    queue(HIGH, shared_connection(redis_url)).enqueue(
        generate_reply_job,
        str(user_id),
        str(message_id),
        job_id=f"reply-{message_id}",
        retry=Retry(max=len(REPLY_RETRY_INTERVALS), interval=REPLY_RETRY_INTERVALS),
    )


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
