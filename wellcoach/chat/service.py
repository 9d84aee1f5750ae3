"""Chat use cases: sessions, messages, moods, receipts, and answering a stored message.

The flow of a turn (accept, answer now or queue, outcome) is `wellcoach.chat.turns`;
this module holds the steps it is made of."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.access import Subject
from wellcoach.accounts import repository as users
from wellcoach.accounts.errors import ConsentRequired
from wellcoach.audit import RequestContext, record
from wellcoach.chat import repository
from wellcoach.chat.deps import ChatServices, Pause
from wellcoach.chat.pipeline import run_turn
from wellcoach.chat.schemas import (
    ChatSessionDetail,
    ChatSessionOut,
    MessageOut,
    MoodEntryOut,
    MoodIn,
    SendMessageIn,
    SessionContextOut,
)
from wellcoach.chat.summaries import SUMMARY_EVERY, refresh_summary
from wellcoach.chat.turn import Sink, Turn, TurnResult
from wellcoach.crypto import Vault
from wellcoach.db.base import utcnow
from wellcoach.errors import Conflict, InvalidInput, NotFound
from wellcoach.escalation.service import escalate_crisis, open_escalation
from wellcoach.models import ChatSession, Message, MoodEntry, User
from wellcoach.models.enums import (
    ConsentPurpose,
    EscalationReason,
    MessageStatus,
    MessageType,
    Urgency,
)


def reply_id_for(message_id: uuid.UUID) -> uuid.UUID:
    """The id the coach's reply to a message gets, known before it exists: a queued
    turn answers 202 with it, and the reply that arrives later carries it."""
    return uuid.uuid5(message_id, "reply")


async def _owned_session(session: AsyncSession, user: User, session_id: uuid.UUID) -> ChatSession:
    subject = Subject(user_id=user.id, role=user.role)
    found = await repository.get_session(session, subject, session_id)
    if found is None or found.user_id != user.id:
        raise NotFound("No such chat session.")
    return found


async def message_out(session: AsyncSession, vault: Vault, message: Message) -> MessageOut:
    return MessageOut(
        id=message.id,
        session_id=message.session_id,
        content=await vault.open_text(
            session, message.user_id, message.content_encrypted, purpose="message"
        ),
        type=message.type.value,
        timestamp=message.created_at,
        status=message.status.value,
        reply_to=message.reply_to_id,
        metadata=message.metadata_ or {},
    )


async def session_out(
    session: AsyncSession, vault: Vault, chat_session: ChatSession
) -> ChatSessionOut:
    context: dict[str, Any] = {}
    if chat_session.context_encrypted:
        context = await vault.open_json(
            session, chat_session.user_id, chat_session.context_encrypted, purpose="session_context"
        )
    summary = None
    if chat_session.summary_encrypted:
        summary = await vault.open_text(
            session, chat_session.user_id, chat_session.summary_encrypted, purpose="session_summary"
        )
    moods = await repository.moods(session, chat_session.user_id, chat_session.id)
    progression = [
        MoodEntryOut(mood=m.mood, stress=m.stress, timestamp=m.created_at) for m in moods
    ]
    if moods:
        context["current_mood"] = moods[-1].mood
        context["stress_level"] = moods[-1].stress
    return ChatSessionOut(
        id=chat_session.id,
        user_id=chat_session.user_id,
        started_at=chat_session.started_at,
        ended_at=chat_session.ended_at,
        message_count=chat_session.message_count,
        summary=summary,
        context=SessionContextOut.model_validate(context),
        mood_progression=progression,
    )


async def require_processing_consent(session: AsyncSession, user: User) -> None:
    """Coaching processes what the user writes: without (or after withdrawing) consent to
    data processing, no new session and no new message."""
    if not await users.has_consent(session, user.id, ConsentPurpose.data_processing):
        raise ConsentRequired(
            "Chatting with the coach needs your consent to data processing.",
            details={"consent": ConsentPurpose.data_processing.value},
        )


async def start_session(session: AsyncSession, vault: Vault, user: User) -> ChatSessionOut:
    await require_processing_consent(session, user)
    chat_session = ChatSession(
        user_id=user.id, started_at=utcnow(), language=user.preferences.get("language", "en")
    )
    session.add(chat_session)
    await session.flush()
    context = {
        "preferences": {k: user.preferences.get(k) for k in ("language", "ai_personality")},
        "recent_activities": [],
    }
    chat_session.context_encrypted = await vault.seal_json(
        session, user.id, context, purpose="session_context"
    )
    await session.flush()
    return await session_out(session, vault, chat_session)


async def list_sessions(
    session: AsyncSession, vault: Vault, user: User, limit: int, before: datetime | None
) -> list[ChatSessionOut]:
    subject = Subject(user_id=user.id, role=user.role)
    rows = await repository.list_sessions(session, subject, limit=limit, before=before)
    return [await session_out(session, vault, row) for row in rows if row.user_id == user.id]


async def session_detail(
    session: AsyncSession,
    vault: Vault,
    user: User,
    session_id: uuid.UUID,
    limit: int,
    before: datetime | None,
) -> ChatSessionDetail:
    chat_session = await _owned_session(session, user, session_id)
    page = await repository.page_of_messages(session, chat_session, limit=limit, before=before)
    base = await session_out(session, vault, chat_session)
    return ChatSessionDetail(
        **base.model_dump(),
        messages=[await message_out(session, vault, m) for m in page],
        next_before=page[-1].created_at if len(page) == limit else None,
    )


async def end_session(
    session: AsyncSession, vault: Vault, user: User, session_id: uuid.UUID
) -> tuple[ChatSessionOut, bool]:
    """End the session (idempotent) with its extractive summary; True when this call
    ended it."""
    chat_session = await _owned_session(session, user, session_id)
    if chat_session.ended_at is not None:
        return await session_out(session, vault, chat_session), False
    chat_session.ended_at = utcnow()
    await refresh_summary(session, vault, chat_session)
    return await session_out(session, vault, chat_session), True


async def log_mood(
    session: AsyncSession,
    vault: Vault,
    user: User,
    session_id: uuid.UUID | None,
    data: MoodIn,
) -> MoodEntryOut:
    if data.mood is None and data.stress is None:
        raise InvalidInput("Send a mood, a stress level, or both.")
    if session_id is not None:
        await _owned_session(session, user, session_id)
    entry = MoodEntry(
        user_id=user.id,
        session_id=session_id,
        mood=data.mood,
        stress=data.stress,
        source="user",
        created_at=utcnow(),
    )
    if data.note:
        entry.note_encrypted = await vault.seal_text(
            session, user.id, data.note, purpose="mood_note"
        )
    session.add(entry)
    await session.flush()
    return MoodEntryOut(mood=entry.mood, stress=entry.stress, timestamp=entry.created_at)


@dataclass
class Stored:
    message: Message
    new: bool  # False: the same `client_message_id` was sent before
    chat_session: ChatSession


async def accept(
    session: AsyncSession,
    vault: Vault,
    user: User,
    session_id: uuid.UUID,
    data: SendMessageIn,
) -> Stored:
    """Store the user's message (sealed); the same `client_message_id` sent twice is
    stored once."""
    chat_session = await _owned_session(session, user, session_id)
    if chat_session.ended_at is not None:
        raise Conflict("This chat session has ended; start a new one.")
    await require_processing_consent(session, user)
    if data.client_message_id:
        existing = await repository.by_client_id(
            session, user.id, session_id, data.client_message_id
        )
        if existing is not None:
            return Stored(existing, False, chat_session)
    message = Message(
        id=uuid.uuid4(),
        created_at=utcnow(),
        session_id=session_id,
        user_id=user.id,
        type=MessageType.user,
        status=MessageStatus.sent,
        content_encrypted=await vault.seal_text(session, user.id, data.content, purpose="message"),
        client_message_id=data.client_message_id,
        metadata_={},
    )
    await repository.store_message(session, message, chat_session)
    return Stored(message, True, chat_session)


async def respond(
    session: AsyncSession,
    services: ChatServices,
    user: User,
    message: Message,
    *,
    sink: Sink | None = None,
    request: RequestContext,
    chat_session: ChatSession | None = None,
    fresh: bool = False,
    pause: Pause | None = None,
) -> tuple[Message, TurnResult | None]:
    """Run the pipeline for a stored user message and store the reply. Idempotent: a
    message that already has a reply returns it (a retried job never answers twice).

    `chat_session`: the message's session when the caller just loaded it (`accept`);
    `fresh`: the message was stored by this request, so no reply can exist yet;
    `pause`: see `run_turn`.
    """
    if not fresh:
        existing = await repository.reply_to(session, user.id, message.id)
        if existing is not None:
            return existing, None
    if chat_session is None or chat_session.id != message.session_id:
        chat_session = await _owned_session(session, user, message.session_id)
    elif chat_session.user_id != user.id:
        raise NotFound("No such chat session.")
    vault = services.vault
    text = await vault.open_text(session, user.id, message.content_encrypted, purpose="message")
    turn = Turn(
        services=services,
        session=session,
        user=user,
        chat_session=chat_session,
        message=message,
        text=text,
        language=user.preferences.get("language", "en"),
        personality=user.preferences.get("ai_personality", "empathetic"),
        sport=user.sport,
        sink=sink,
    )
    result = await run_turn(turn, pause=pause)
    if result.crisis:
        await escalate_crisis(
            session,
            vault,
            user_id=user.id,
            message=text,
            category=result.category,
            context={
                "session_id": str(chat_session.id),
                "category": result.category,
                "recent_mood": turn.mood,
                "chat_history_sample": turn.history[-4:],
                "health_alerts": turn.health.alert_messages if turn.health else [],
            },
            request=request,
            session_id=chat_session.id,
            message_id=message.id,
            policy=services.settings.escalation,
        )
        await record(
            session,
            "chat.crisis_detected",
            context=request,
            user_id=user.id,
            resource_type="message",
            resource_id=message.id,
            details={"category": result.category},
        )
    elif result.wants_human:
        await open_escalation(
            session,
            vault,
            user_id=user.id,
            reason=EscalationReason.needs_human_support,
            urgency=Urgency.medium,
            message=text,
            context={"session_id": str(chat_session.id)},
            request=request,
            session_id=chat_session.id,
            message_id=message.id,
            source="user",
            policy=services.settings.escalation,
        )
    reply = Message(
        id=reply_id_for(message.id),
        created_at=utcnow(),
        session_id=chat_session.id,
        user_id=user.id,
        type=MessageType.ai,
        status=MessageStatus.sent,
        reply_to_id=message.id,
        content_encrypted=await vault.seal_text(session, user.id, result.text, purpose="message"),
        client_message_id=None,
        metadata_=result.metadata(),
    )
    count = await repository.store_message(
        session, reply, chat_session, answered=message, ledger_rows=result.ledger_rows
    )
    if count % SUMMARY_EVERY == 0:
        await refresh_summary(session, vault, chat_session)
    await session.flush()
    return reply, result


async def set_status(
    session: AsyncSession, user_id: uuid.UUID, message_ids: list[uuid.UUID], status: MessageStatus
) -> int:
    """Delivery and read receipts for the coach's messages; status only moves forward."""
    allowed = [MessageStatus.sent] + (
        [MessageStatus.delivered] if status == MessageStatus.read else []
    )
    return await repository.advance_status(session, user_id, message_ids, status, allowed)
