"""Chat jobs: queued replies and session summaries. Idempotent: they take ids, and a
message that already has a reply is not answered twice."""

from __future__ import annotations

import uuid

from wellcoach.audit import RequestContext
from wellcoach.chat import service
from wellcoach.chat.repository import find_message
from wellcoach.models import ChatSession, User
from wellcoach.platform import Platform, run_with_platform


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


def refresh_summary_job(session_id: str) -> None:
    async def work(platform: Platform) -> None:
        async with platform.unit_of_work() as session:
            chat_session = await session.get(ChatSession, uuid.UUID(session_id))
            if chat_session is not None:
                await service.refresh_summary(session, platform, chat_session)

    run_with_platform(work)
