"""Chat queries; every read goes through `sessions_readable_by`."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.auth.policy import Subject
from wellcoach.models import ChatSession, Message, MoodEntry


def sessions_readable_by(subject: Subject) -> Select[tuple[ChatSession]]:
    """Chat sessions are private: their owner, and admins (for GDPR work), read them."""
    query = select(ChatSession)
    if subject.is_admin:
        return query
    return query.where(ChatSession.user_id == subject.user_id)


async def get_session(session: AsyncSession, subject: Subject, session_id: uuid.UUID):  # noqa: ANN201
    return await session.scalar(sessions_readable_by(subject).where(ChatSession.id == session_id))


async def list_sessions(
    session: AsyncSession, subject: Subject, *, limit: int, before: datetime | None
) -> list[ChatSession]:
    query = sessions_readable_by(subject).order_by(ChatSession.started_at.desc()).limit(limit)
    if before is not None:
        query = query.where(ChatSession.started_at < before)
    return list(await session.scalars(query))


async def page_of_messages(
    session: AsyncSession, chat_session: ChatSession, *, limit: int, before: datetime | None
) -> list[Message]:
    """Newest first; `before` pages to older messages."""
    query = (
        select(Message)
        .where(Message.session_id == chat_session.id, Message.user_id == chat_session.user_id)
        .order_by(Message.created_at.desc(), Message.id)
        .limit(limit)
    )
    if before is not None:
        query = query.where(Message.created_at < before)
    return list(await session.scalars(query))


async def recent_messages(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, limit: int
) -> list[Message]:
    rows = await session.scalars(
        select(Message)
        .where(Message.user_id == user_id, Message.session_id == session_id)
        .order_by(Message.created_at.desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


async def previous_summaries(
    session: AsyncSession, user_id: uuid.UUID, exclude: uuid.UUID, limit: int = 3
) -> list[ChatSession]:
    rows = await session.scalars(
        select(ChatSession)
        .where(
            ChatSession.user_id == user_id,
            ChatSession.id != exclude,
            ChatSession.summary_encrypted.is_not(None),
        )
        .order_by(ChatSession.started_at.desc())
        .limit(limit)
    )
    return list(rows)


async def moods(session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID | None = None):  # noqa: ANN201
    query = select(MoodEntry).where(MoodEntry.user_id == user_id).order_by(MoodEntry.created_at)
    if session_id is not None:
        query = query.where(MoodEntry.session_id == session_id)
    return list(await session.scalars(query))


async def find_message(session: AsyncSession, user_id: uuid.UUID, message_id: uuid.UUID):  # noqa: ANN201
    return await session.scalar(
        select(Message).where(Message.id == message_id, Message.user_id == user_id)
    )


async def reply_to(session: AsyncSession, user_id: uuid.UUID, message_id: uuid.UUID):  # noqa: ANN201
    return await session.scalar(
        select(Message).where(Message.user_id == user_id, Message.reply_to_id == message_id)
    )


async def by_client_id(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, client_message_id: str
) -> Message | None:
    return await session.scalar(
        select(Message).where(
            Message.user_id == user_id,
            Message.session_id == session_id,
            Message.client_message_id == client_message_id,
        )
    )
