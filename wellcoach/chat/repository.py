"""Chat queries; every read goes through `sessions_readable_by`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    Select,
    Table,
    Update,
    bindparam,
    exists,
    func,
    insert,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from wellcoach.access import Subject
from wellcoach.costs import repository as costs
from wellcoach.costs.budgets import Spend, parse_alerted
from wellcoach.costs.ledger import LedgerRow
from wellcoach.db.base import utcnow
from wellcoach.db.session import rows_affected
from wellcoach.models import ChatSession, ConsentRecord, Message, MoodEntry, SystemState
from wellcoach.models.enums import ConsentPurpose, MessageStatus, MessageType


def sessions_readable_by(subject: Subject) -> Select[ChatSession]:
    """Chat sessions are private: their owner, and admins (for GDPR work), read them."""
    query = select(ChatSession)
    if subject.is_admin:
        return query
    return query.where(ChatSession.user_id == subject.user_id)


async def get_session(
    session: AsyncSession, subject: Subject, session_id: uuid.UUID
) -> ChatSession | None:
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


async def moods(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID | None = None
) -> list[MoodEntry]:
    query = select(MoodEntry).where(MoodEntry.user_id == user_id).order_by(MoodEntry.created_at)
    if session_id is not None:
        query = query.where(MoodEntry.session_id == session_id)
    return list(await session.scalars(query))


async def find_message(
    session: AsyncSession, user_id: uuid.UUID, message_id: uuid.UUID
) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.id == message_id, Message.user_id == user_id)
    )


async def reply_to(
    session: AsyncSession, user_id: uuid.UUID, message_id: uuid.UUID
) -> Message | None:
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


# The statements of a chat turn's hot path are built once, with bind parameters:
# building and hashing a statement like these costs more CPU than running it.


@dataclass(frozen=True)
class TurnFacts:
    history: list[tuple[uuid.UUID, MessageType, bytes]]  # (id, type, sealed), oldest first
    mood: int | None  # of the user's latest mood entry
    summaries: list[bytes]  # sealed summaries of up to 3 earlier sessions, newest first
    spend: Spend  # the user's today and this month, the platform's today; alerts raised
    kb_state: dict[str, Any] | None  # the knowledge base's version record
    health_consent: bool = False  # the user's latest health_data decision


@cache
def _turn_facts_statement() -> Select[Any]:
    user_id: BindParameter[uuid.UUID] = bindparam("user_id")
    session_id: BindParameter[uuid.UUID] = bindparam("session_id")
    mood = (
        select(MoodEntry.mood)
        .where(MoodEntry.user_id == user_id)
        .order_by(MoodEntry.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    earlier = (
        select(ChatSession.summary_encrypted, ChatSession.started_at)
        .where(
            ChatSession.user_id == user_id,
            ChatSession.id != session_id,
            ChatSession.summary_encrypted.is_not(None),
        )
        .order_by(ChatSession.started_at.desc())
        .limit(3)
        .subquery()
    )
    summaries = (
        select(
            func.array_agg(
                aggregate_order_by(earlier.c.summary_encrypted, earlier.c.started_at.desc())
            )
        )
        .select_from(earlier)
        .scalar_subquery()
    )
    # the budgets' periods: `since` (today 00:00 UTC), `month_since`, and their dates
    spent = costs.spent_since(user_id, bindparam("since"))
    spent_month = costs.spent_since(user_id, bindparam("month_since"))
    platform = costs.platform_spent_on(bindparam("day"))
    alerted = costs.alerts_raised(user_id, bindparam("month"), bindparam("day"))
    state = (
        select(SystemState.value)
        .where(SystemState.key == bindparam("kb_state_key"))
        .scalar_subquery()
    )
    health_consent = (
        select(ConsentRecord.granted)
        .where(
            ConsentRecord.user_id == user_id,
            ConsentRecord.purpose == ConsentPurpose.health_data,
        )
        .order_by(ConsentRecord.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    facts = select(
        mood.label("mood"),
        health_consent.label("health_consent"),
        summaries.label("summaries"),
        spent.label("spent"),
        spent_month.label("spent_month"),
        platform.label("platform_spent"),
        alerted.label("alerted"),
        state.label("kb"),
    ).subquery("facts")
    recent = (
        select(Message.id, Message.type, Message.content_encrypted, Message.created_at)
        .where(Message.user_id == user_id, Message.session_id == session_id)
        .order_by(Message.created_at.desc())
        .limit(bindparam("history_limit"))
        .subquery("recent")
    )
    # one row per recent message (or one row of NULLs), each with the facts
    return (
        select(facts, recent.c.id, recent.c.type, recent.c.content_encrypted)
        .select_from(facts.outerjoin(recent, true()))
        .order_by(recent.c.created_at.desc())
    )


async def turn_facts(
    session: AsyncSession,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    *,
    history_limit: int,
    since: datetime,
    month_since: datetime,
    kb_state_key: str,
) -> TurnFacts:
    """What a chat turn reads before retrieval, in one round trip: the session's last
    messages (only the columns a prompt needs), the latest mood, earlier sessions'
    summaries, the spend of each budget's period (the user's since `since` and since
    `month_since`, the platform's on `since`'s day) with the alerts raised in them, and
    the knowledge base's version."""
    rows = (
        await session.execute(
            _turn_facts_statement(),
            {
                "user_id": user_id,
                "session_id": session_id,
                "since": since,
                "month_since": month_since,
                "day": since.date(),
                "month": month_since.date(),
                "kb_state_key": kb_state_key,
                "history_limit": history_limit,
            },
        )
    ).all()
    first = rows[0]
    return TurnFacts(
        history=[(row.id, row.type, row.content_encrypted) for row in reversed(rows) if row.id],
        mood=first.mood,
        summaries=[bytes(blob) for blob in first.summaries or ()],
        spend=Spend(
            user_today=Decimal(first.spent or 0),
            user_month=Decimal(first.spent_month or 0),
            platform_today=Decimal(first.platform_spent or 0),
            alerted=parse_alerted(first.alerted),
        ),
        kb_state=dict(first.kb) if first.kb is not None else None,
        health_consent=bool(first.health_consent),
    )


@dataclass(frozen=True)
class SummaryFacts:
    messages: int  # of the last `limit`
    topics: list[str]  # knowledge-base titles cited, in the order they first came up
    crisis: bool
    first_mood: int | None
    last_mood: int | None


# Aggregated on the server: the messages' metadata (citations, timings) stays there.
# A title's first citation orders the topics: DISTINCT ON keeps it.
_SUMMARY_FACTS = text(
    """
    WITH recent AS (
        SELECT created_at, metadata FROM messages
        WHERE user_id = :user_id AND session_id = :session_id
        ORDER BY created_at DESC LIMIT :limit
    ), cited AS (
        SELECT DISTINCT ON (c.value ->> 'title') c.value ->> 'title' AS title,
               r.created_at, c.n
        FROM recent r,
             jsonb_array_elements(
                 CASE WHEN jsonb_typeof(r.metadata -> 'citations') = 'array'
                      THEN r.metadata -> 'citations' ELSE '[]'::jsonb END
             ) WITH ORDINALITY AS c(value, n)
        WHERE c.value ->> 'title' IS NOT NULL
        ORDER BY c.value ->> 'title', r.created_at, c.n
    ), moods AS (
        SELECT mood, created_at FROM mood_entries
        WHERE user_id = :user_id AND session_id = :session_id AND mood > 0
    )
    SELECT (SELECT count(*) FROM recent) AS messages,
           ARRAY(SELECT title FROM cited ORDER BY created_at, n LIMIT :topics) AS topics,
           (SELECT coalesce(bool_or(metadata ->> 'crisis' = 'true'), false) FROM recent)
               AS crisis,
           (SELECT mood FROM moods ORDER BY created_at LIMIT 1) AS first_mood,
           (SELECT mood FROM moods ORDER BY created_at DESC LIMIT 1) AS last_mood
    """
)


async def summary_facts(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, limit: int, topics: int
) -> SummaryFacts:
    """What the extractive summary of a session says, over its last `limit` messages, in
    one statement."""
    row = (
        await session.execute(
            _SUMMARY_FACTS,
            {"user_id": user_id, "session_id": session_id, "limit": limit, "topics": topics},
        )
    ).one()
    return SummaryFacts(
        messages=row.messages,
        topics=list(row.topics),
        crisis=row.crisis,
        first_mood=row.first_mood,
        last_mood=row.last_mood,
    )


@cache
def _store_statement(delivered: bool = False, ledger_rows: int = 0) -> Update:
    """Insert a message and count it in its session (RETURNING the count), in one
    statement; with the coach's reply, also the answered message's status and the
    turn's ledger rows. Built once per shape (number of ledger rows)."""
    sessions, messages = cast(Table, ChatSession.__table__), cast(Table, Message.__table__)
    stored = insert(messages).values({c.key: bindparam(f"m_{c.key}") for c in messages.c})
    ctes = [stored.cte("stored")]
    if delivered:
        answered = (
            update(messages)
            .where(
                messages.c.id == bindparam("answered_id"),
                messages.c.created_at == bindparam("answered_created_at"),
            )
            .values(status=bindparam("delivered"), updated_at=bindparam("now"))
        )
        ctes.append(answered.cte("answered"))
    for i in range(ledger_rows):  # one CTE a row: a multi-row VALUES is never cached
        ctes.append(costs.insert_statement(f"l{i}_").cte(f"ledger_{i}"))
    return (
        update(sessions)
        .where(sessions.c.id == bindparam("chat_session_id"))
        .values(message_count=sessions.c.message_count + 1, updated_at=bindparam("now"))
        .returning(sessions.c.message_count, sessions.c.updated_at)
        .add_cte(*ctes)
    )


async def store_message(
    session: AsyncSession,
    message: Message,
    chat_session: ChatSession,
    *,
    answered: Message | None = None,
    ledger_rows: Sequence[LedgerRow] = (),
) -> int:
    """Store a message and count it in its session (in the database: two turns of one
    session may store messages at once), in one round trip; returns the new count.
    With `answered` (the user's message a reply answers) it is marked delivered, and
    the turn's `ledger_rows` are written too. `message` stays out of the ORM
    session: callers only read it."""
    now = utcnow()
    message.updated_at = now
    params: dict[str, Any] = {"chat_session_id": chat_session.id, "now": now}
    for column in Message.__table__.c:
        attribute = Message.__mapper__.get_property_by_column(column).key
        params[f"m_{column.key}"] = getattr(message, attribute)
    if answered is not None:
        params |= {
            "answered_id": answered.id,
            "answered_created_at": answered.created_at,
            "delivered": MessageStatus.delivered,
        }
    for i, ledger_row in enumerate(ledger_rows):
        params |= costs.insert_params(f"l{i}_", ledger_row)
    statement = _store_statement(answered is not None, len(ledger_rows))
    row = (await session.execute(statement, params)).one()
    if answered is not None:
        set_committed_value(answered, "status", MessageStatus.delivered)
        set_committed_value(answered, "updated_at", now)
    set_committed_value(chat_session, "message_count", row[0])
    set_committed_value(chat_session, "updated_at", row[1])
    return int(row[0])


async def mark_failed(session: AsyncSession, user_id: uuid.UUID, message_id: uuid.UUID) -> None:
    """A message whose reply failed: the app shows it, and a retry job will answer it."""
    await session.execute(
        update(Message)
        .where(Message.id == message_id, Message.user_id == user_id)
        .values(status=MessageStatus.error, updated_at=utcnow())
    )


async def advance_status(
    session: AsyncSession,
    user_id: uuid.UUID,
    message_ids: list[uuid.UUID],
    status: MessageStatus,
    allowed: list[MessageStatus],
) -> int:
    """Move the coach's messages among `message_ids` that are in an `allowed` status to
    `status`; returns how many moved."""
    return await rows_affected(
        session,
        update(Message)
        .where(
            Message.id.in_(message_ids),
            Message.user_id == user_id,
            Message.type == MessageType.ai,
            Message.status.in_(allowed),
        )
        .values(status=status, updated_at=utcnow()),
    )


async def transcript(
    session: AsyncSession, chat_session: ChatSession, limit: int
) -> list[tuple[MessageType, bytes]]:
    """The session's last `limit` user and coach messages (sealed), oldest first."""
    rows = (
        await session.execute(
            select(Message.type, Message.content_encrypted)
            .where(
                Message.user_id == chat_session.user_id,
                Message.session_id == chat_session.id,
                Message.type.in_((MessageType.user, MessageType.ai)),
            )
            .order_by(Message.created_at.desc())
            .limit(limit)
        )
    ).all()
    return [(kind, sealed) for kind, sealed in reversed(rows)]


@dataclass(frozen=True)
class Unanswered:
    user_id: uuid.UUID
    message_id: uuid.UUID
    requeued: int  # times a sweep has queued it again


async def unanswered(
    session: AsyncSession, *, stored_before: datetime, stored_after: datetime, limit: int
) -> list[Unanswered]:
    """User messages stored in the window with no reply yet: turns whose answer was lost
    (a worker died mid-job, a queue that was down). Oldest first."""
    reply = aliased(Message)
    requeued = func.coalesce(Message.metadata_["requeued"].as_integer(), 0).label("requeued")
    rows = await session.execute(
        select(Message.user_id, Message.id, requeued)
        .where(
            Message.type == MessageType.user,
            Message.status.in_((MessageStatus.sent, MessageStatus.error)),
            Message.created_at < stored_before,
            Message.created_at >= stored_after,
            ~exists().where(reply.user_id == Message.user_id, reply.reply_to_id == Message.id),
        )
        .order_by(Message.created_at)
        .limit(limit)
    )
    return [Unanswered(row.user_id, row.id, int(row.requeued)) for row in rows]


async def count_requeue(session: AsyncSession, message_id: uuid.UUID, requeued: int) -> None:
    await session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(metadata_=Message.metadata_.op("||")(func.jsonb_build_object("requeued", requeued)))
    )
