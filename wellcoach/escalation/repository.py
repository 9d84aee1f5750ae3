"""Escalation queries, including the one access-control query every read path uses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import cast

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.access import Subject
from wellcoach.models import ChatSession, Coach, Escalation, EscalationEvent, MoodEntry, User
from wellcoach.models.enums import EscalationReason, EscalationStatus, Role, Urgency


@dataclass(frozen=True)
class NewEscalation:
    """The row to insert, texts already sealed. Inserted with a statement rather than
    `session.add`, so that a message escalated twice meets ON CONFLICT, not an error."""

    id: uuid.UUID
    user_id: uuid.UUID
    session_id: uuid.UUID | None
    reason: EscalationReason
    urgency: Urgency
    status: EscalationStatus
    source: str
    message_id: uuid.UUID | None
    message_encrypted: bytes
    context_encrypted: bytes
    response_time_sla: str
    sla_due_at: datetime
    created_at: datetime
    updated_at: datetime


# Select[Escalation], not 2.0's Select[tuple[Escalation]]: SQLAlchemy 2.1 (installed)
# types a select by its columns
def escalations_readable_by(subject: Subject) -> Select[Escalation]:
    """Escalations `subject` may read.

    Admins read all; everyone reads their own; a coach also reads the escalations
    assigned to them, whatever their status (a closed case stays in the coach's
    history), and, if registered as a coach, the cases nobody holds yet (submitted or
    triaged), so that they can claim one. Team managers read no one else's:
    escalations are personal data.
    """
    query = select(Escalation)
    if subject.is_admin:
        return query
    conditions = [Escalation.user_id == subject.user_id]
    if subject.role == Role.coach:
        conditions.append(
            exists(
                select(Coach.id).where(
                    Coach.id == Escalation.assigned_coach_id,
                    Coach.user_id == subject.user_id,
                )
            )
        )
        conditions.append(
            and_(
                Escalation.assigned_coach_id.is_(None),
                Escalation.status.in_((EscalationStatus.submitted, EscalationStatus.triaged)),
                exists(select(Coach.id).where(Coach.user_id == subject.user_id)),
            )
        )
    return query.where(or_(*conditions))


async def by_message(session: AsyncSession, message_id: uuid.UUID) -> Escalation | None:
    """The escalation a chat message opened, if it opened one."""
    return await session.scalar(select(Escalation).where(Escalation.message_id == message_id))


async def insert_or_get(session: AsyncSession, new: NewEscalation) -> Escalation:
    """Insert `new`, or, if its message already opened an escalation (a concurrent retry
    of the same turn), leave that one alone; either way return the row now stored.

    The caller tells the two apart by comparing ids."""
    statement = insert(Escalation).values(
        {field.name: getattr(new, field.name) for field in fields(new)}
    )
    if new.message_id is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["message_id"])
    await session.execute(statement)
    stored = await session.scalar(
        select(Escalation).where(
            Escalation.message_id == new.message_id
            if new.message_id is not None
            else Escalation.id == new.id
        )
    )
    assert stored is not None  # inserted, or held by the conflicting row
    return stored


async def open_crisis_of(session: AsyncSession, user_id: uuid.UUID) -> Escalation | None:
    """The user's open crisis escalation (critical, not closed), locked for the rest of
    the transaction.

    A transaction-scoped advisory lock per user comes first: two crisis turns of one
    user at once would otherwise both find none and open two. The lock is released at
    commit or rollback."""
    await session.execute(select(func.pg_advisory_xact_lock(_lock_key("crisis", user_id))))
    return await session.scalar(
        select(Escalation)
        .where(
            Escalation.user_id == user_id,
            Escalation.reason == EscalationReason.emergency_support,
            Escalation.urgency == Urgency.critical,
            Escalation.status != EscalationStatus.closed,
        )
        .order_by(Escalation.created_at.desc())
        .limit(1)
        .with_for_update()
    )


def add_event(session: AsyncSession, event: EscalationEvent) -> None:
    session.add(event)


# the statuses in which a coach holds a case (counted against their capacity)
HELD = (EscalationStatus.assigned, EscalationStatus.in_progress, EscalationStatus.responded)


async def listing(
    session: AsyncSession,
    subject: Subject,
    *,
    status: EscalationStatus | None = None,
    limit: int = 100,
) -> list[Escalation]:
    """What `subject` may read, the most urgent first: priority, then time left."""
    query = escalations_readable_by(subject)
    if status is not None:
        query = query.where(Escalation.status == status)
    query = query.order_by(
        Escalation.priority.desc(), Escalation.sla_due_at, Escalation.created_at
    ).limit(limit)
    return list(await session.scalars(query))


async def events_of(session: AsyncSession, escalation_id: uuid.UUID) -> list[EscalationEvent]:
    return list(
        await session.scalars(
            select(EscalationEvent)
            .where(EscalationEvent.escalation_id == escalation_id)
            .order_by(EscalationEvent.created_at, EscalationEvent.id)
        )
    )


async def recent_scores(
    session: AsyncSession, user_id: uuid.UUID, limit: int
) -> tuple[list[int], list[int]]:
    """The user's latest mood and stress scores, newest first."""
    rows = (
        await session.execute(
            select(MoodEntry.mood, MoodEntry.stress)
            .where(MoodEntry.user_id == user_id)
            .order_by(MoodEntry.created_at.desc())
            .limit(limit)
        )
    ).all()
    return (
        [row.mood for row in rows if row.mood is not None],
        [row.stress for row in rows if row.stress is not None],
    )


async def coach_by_user(session: AsyncSession, user_id: uuid.UUID) -> Coach | None:
    return await session.scalar(select(Coach).where(Coach.user_id == user_id))


async def coach_by_id(
    session: AsyncSession, coach_id: uuid.UUID, *, lock: bool = False
) -> Coach | None:
    query = select(Coach).where(Coach.id == coach_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


def add_coach(session: AsyncSession, coach: Coach) -> None:
    session.add(coach)


async def coaches_with_load(
    session: AsyncSession, *, only_switched_on: bool = False, lock: bool = False
) -> list[tuple[Coach, int]]:
    """Every coach with the number of cases they hold, by name. `lock` locks the coach
    rows for the transaction, so two assignments at once cannot both take the last
    free slot of one coach."""
    held = (
        select(func.count(Escalation.id))
        .where(Escalation.assigned_coach_id == Coach.id, Escalation.status.in_(HELD))
        .correlate(Coach)
        .scalar_subquery()
    )
    query = select(Coach, held).order_by(Coach.display_name, Coach.id)
    if only_switched_on:
        query = query.where(Coach.available.is_(True))
    if lock:
        query = query.with_for_update(of=Coach)
    rows = (await session.execute(query)).all()
    return [(row[0], cast(int, row[1])) for row in rows]


async def load_of(session: AsyncSession, coach_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count(Escalation.id)).where(
                Escalation.assigned_coach_id == coach_id, Escalation.status.in_(HELD)
            )
        )
        or 0
    )


def _lock_key(scope: str, user_id: uuid.UUID) -> int:
    """A signed 64-bit advisory-lock key for (scope, user): PostgreSQL's bigint."""
    digest = uuid.uuid5(user_id, scope).int >> 64
    return digest - (1 << 64) if digest >= 1 << 63 else digest


async def owns_chat_session(
    session: AsyncSession, user_id: uuid.UUID, chat_session_id: uuid.UUID
) -> bool:
    """Whether a chat session is the user's (an escalation may only name its own)."""
    found = await session.scalar(
        select(ChatSession.id).where(
            ChatSession.id == chat_session_id, ChatSession.user_id == user_id
        )
    )
    return found is not None


async def of_user(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int = 50
) -> list[tuple[Escalation, str | None]]:
    """A user's escalations, newest first, each with its coach's display name."""
    rows = await session.execute(
        select(Escalation, Coach.display_name)
        .outerjoin(Coach, Coach.id == Escalation.assigned_coach_id)
        .where(Escalation.user_id == user_id)
        .order_by(Escalation.created_at.desc(), Escalation.id.desc())
        .limit(limit)
    )
    return [(escalation, name) for escalation, name in rows]


# statuses a case waits in for its first response
AWAITING = (
    EscalationStatus.submitted,
    EscalationStatus.triaged,
    EscalationStatus.assigned,
    EscalationStatus.in_progress,
)


async def awaiting_response(session: AsyncSession, *, limit: int = 500) -> list[Escalation]:
    """Open cases without a first response, the nearest deadline first, locked and
    skipping those another watcher holds (two watchers never work one case)."""
    query = (
        select(Escalation)
        .where(Escalation.status.in_(AWAITING), Escalation.first_response_at.is_(None))
        .order_by(Escalation.sla_due_at, Escalation.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(await session.scalars(query))


async def coach_contact(session: AsyncSession, coach_id: uuid.UUID) -> tuple[str, str, str] | None:
    """A coach's email, name and language, to notify them."""
    row = (
        await session.execute(
            select(User.email, User.name, User.preferences)
            .join(Coach, Coach.user_id == User.id)
            .where(Coach.id == coach_id)
        )
    ).first()
    if row is None:
        return None
    preferences: dict[str, str] = dict(row.preferences or {})
    return str(row.email), str(row.name or ""), preferences.get("language", "en")
