"""/v1/chat: sessions, messages (REST), mood and receipts. Verified users only."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import structlog
from fastapi import APIRouter, Query, Response, status
from redis.exceptions import RedisError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.deps import (
    TURNS_QUEUED,
    ContextDep,
    PlatformDep,
    SessionDep,
    TurnSlotsDep,
    VerifiedUser,
)
from jobs.chat import enqueue_reply, enqueue_summary
from wellcoach.chat import service
from wellcoach.chat.schemas import (
    ChatSessionDetail,
    ChatSessionOut,
    MessageStatusIn,
    MoodEntryOut,
    MoodIn,
    SendMessageIn,
    TurnOut,
)
from wellcoach.chat.summaries import model_summaries_enabled
from wellcoach.models.enums import MessageStatus

router = APIRouter(prefix="/chat", tags=["chat"])
log = structlog.get_logger(__name__)


@router.post("/sessions", response_model=ChatSessionOut, status_code=status.HTTP_201_CREATED)
async def start_session(user: VerifiedUser, session: SessionDep, platform: PlatformDep):  # noqa: ANN201
    return await service.start_session(session, platform, user)


@router.get("/sessions", response_model=list[ChatSessionOut])
async def list_sessions(
    user: VerifiedUser,
    session: SessionDep,
    platform: PlatformDep,
    limit: int = Query(20, ge=1, le=100),
    before: datetime | None = None,
):  # noqa: ANN201
    return await service.list_sessions(session, platform, user, limit, before)


@router.get("/sessions/{session_id}", response_model=ChatSessionDetail)
async def get_session(
    session_id: uuid.UUID,
    user: VerifiedUser,
    session: SessionDep,
    platform: PlatformDep,
    limit: int = Query(50, ge=1, le=200),
    before: datetime | None = None,
):  # noqa: ANN201
    """The session with its messages, newest first; page with `before=next_before`."""
    return await service.session_detail(session, platform, user, session_id, limit, before)


@router.post("/sessions/{session_id}/end", response_model=ChatSessionOut)
async def end_session(
    session_id: uuid.UUID, user: VerifiedUser, session: SessionDep, platform: PlatformDep
):  # noqa: ANN201
    """End the session; its summary is what the coach remembers next time. The
    extractive summary is stored now; with a model configured, a job then asks the
    model for a narrative one."""
    ended, first_end = await service.end_session(session, platform, user, session_id)
    await session.commit()
    if first_end and model_summaries_enabled(platform):
        try:
            await asyncio.to_thread(enqueue_summary, platform.urls.redis_url, user.id, session_id)
        except RedisError:  # the extractive summary is stored: the session still ends
            log.warning("summary_enqueue_failed", session_id=str(session_id))
    return ended


@router.post(
    "/sessions/{session_id}/mood", response_model=MoodEntryOut, status_code=status.HTTP_201_CREATED
)
async def log_mood(
    session_id: uuid.UUID,
    body: MoodIn,
    user: VerifiedUser,
    session: SessionDep,
    platform: PlatformDep,
):  # noqa: ANN201
    return await service.log_mood(session, platform, user, session_id, body)


@router.post("/messages/status", status_code=status.HTTP_204_NO_CONTENT)
async def message_status(body: MessageStatusIn, user: VerifiedUser, session: SessionDep) -> None:
    """Delivery and read receipts for the coach's messages."""
    await service.set_status(session, user, body.message_ids, MessageStatus(body.status))


@router.post(
    "/sessions/{session_id}/messages",
    response_model=TurnOut,
    responses={
        202: {"model": TurnOut, "description": "The reply is queued"},
        503: {"description": "Too busy to take the message now; nothing was stored"},
    },
)
async def send_message(
    session_id: uuid.UUID,
    body: SendMessageIn,
    user: VerifiedUser,
    session: SessionDep,
    platform: PlatformDep,
    slots: TurnSlotsDep,
    context: ContextDep,
    response: Response,
) -> TurnOut:
    """Store the message, then answer it, or queue the answer (202 with `reply_id`; the
    reply arrives over Socket.IO): with `mode: async`, when the server is at capacity,
    or when generation failed (the message then has status `error`).

    The message is committed before any LLM work.
    """
    user_id = user.id
    accepted = await service.accept(session, platform, user, session_id, body)
    message = accepted.message
    message_id = message.id  # ids outlive a rollback (which expires the objects)
    user_message = await service.message_out(session, platform.vault, message)
    await session.commit()
    reply_id = service.reply_id_for(message_id)

    async def queued(reason: str) -> TurnOut:
        await asyncio.to_thread(enqueue_reply, platform.urls.redis_url, user_id, message_id)
        TURNS_QUEUED.labels(reason).inc()
        response.status_code = status.HTTP_202_ACCEPTED
        return TurnOut(user_message=user_message, reply=None, queued=True, reply_id=reply_id)

    if body.mode == "async":
        return await queued("async")
    async with slots.claim() as admitted:
        if not admitted:
            try:
                return await queued("busy")
            except RedisError:  # no queue either: answer now, over the bound, not never
                log.warning("turn_queue_unavailable", message_id=str(message_id))
        try:
            reply, _ = await service.respond(
                session,
                platform,
                user,
                message,
                request=context,
                chat_session=accepted.chat_session,
                fresh=accepted.new,
                pause=session.commit,  # no connection held while the model writes
            )
            reply_out = await service.message_out(session, platform.vault, reply)
            await session.commit()
        except PoolTimeout:
            # no connection came free: the message waits, unanswered, for a worker
            await session.rollback()
            return await queued("busy")
        except Exception:
            log.exception("chat_generation_failed", message_id=str(message_id))
            await session.rollback()
            await service.mark_failed(session, user_id, message_id)
            await session.commit()
            user_message.status = "error"
            return await queued("failed")
    user_message.status = message.status.value
    return TurnOut(
        user_message=user_message,
        reply=reply_out,
        reply_id=reply_out.id,
        crisis=bool(reply_out.metadata.get("crisis")),
    )
