"""/v1/chat: sessions, messages (REST), mood and receipts. Verified users only."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import structlog
from fastapi import APIRouter, Query, Response, status

from api.deps import ContextDep, PlatformDep, SessionDep, UnitOfWorkDep, VerifiedUser
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
from wellcoach.models import User
from wellcoach.models.enums import MessageStatus

router = APIRouter(prefix="/chat", tags=["chat"])
log = structlog.get_logger(__name__)


def enqueue_reply(platform, user_id: uuid.UUID, message_id: uuid.UUID) -> None:  # noqa: ANN001
    from rq import Retry

    from jobs.chat import generate_reply_job
    from jobs.queues import HIGH, connect, queue

    connection = connect(platform.urls.redis_url)
    try:
        queue(HIGH, connection).enqueue(
            generate_reply_job,
            str(user_id),
            str(message_id),
            job_id=f"reply-{message_id}",
            retry=Retry(max=3, interval=[5, 30, 120]),
        )
    finally:
        connection.close()


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
    """End the session; its summary is what the coach remembers next time."""
    return await service.end_session(session, platform, user, session_id)


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
    responses={202: {"model": TurnOut, "description": "The reply is queued"}},
)
async def send_message(
    session_id: uuid.UUID,
    body: SendMessageIn,
    user: VerifiedUser,
    platform: PlatformDep,
    units: UnitOfWorkDep,
    context: ContextDep,
    response: Response,
) -> TurnOut:
    """Store the message, then answer it (or queue the answer with `mode: async`).

    The message is committed before any LLM work. If generation fails it keeps
    status `error` and a retry job answers it later (202).
    """
    async with units() as uow:
        owner = await uow.get(User, user.id)
        message, new = await service.accept_message(uow, platform, owner, session_id, body)
        user_message = await service.message_out(uow, platform.vault, message)
    if body.mode == "async":
        await asyncio.to_thread(enqueue_reply, platform, user.id, message.id)
        response.status_code = status.HTTP_202_ACCEPTED
        return TurnOut(user_message=user_message, reply=None, queued=True)
    try:
        async with units() as uow:
            owner = await uow.get(User, user.id)
            stored = await uow.get(type(message), (message.id, message.created_at))
            reply, result = await service.respond(uow, platform, owner, stored, request=context)
            reply_out = await service.message_out(uow, platform.vault, reply)
            user_message = await service.message_out(uow, platform.vault, stored)
    except Exception:
        log.exception("chat_generation_failed", message_id=str(message.id))
        async with units() as uow:
            await service.mark_failed(uow, user.id, message.id)
        await asyncio.to_thread(enqueue_reply, platform, user.id, message.id)
        response.status_code = status.HTTP_202_ACCEPTED
        user_message.status = "error"
        return TurnOut(user_message=user_message, reply=None, queued=True)
    crisis = bool(reply_out.metadata.get("crisis"))
    return TurnOut(user_message=user_message, reply=reply_out, crisis=crisis)
