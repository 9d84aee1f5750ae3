"""User queries, including the one access-control query every read path uses."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.access import Subject
from wellcoach.models import Coach, ConsentRecord, Escalation, User
from wellcoach.models.enums import ConsentPurpose, EscalationStatus, Role


def normalize_email(email: str) -> str:
    return email.strip().lower()


def readable_by(subject: Subject) -> Select[User]:
    """Users whose profile `subject` may read.

    Admins read everyone; everyone reads themselves; a coach reads the athletes
    with an open escalation assigned to them. Team managers read only
    aggregated metrics, never a profile of someone else.
    """
    query = select(User).where(User.deleted_at.is_(None))
    if subject.role == Role.admin:
        return query
    conditions = [User.id == subject.user_id]
    if subject.role == Role.coach:
        conditions.append(
            exists(
                select(Escalation.id)
                .join(Coach, Coach.id == Escalation.assigned_coach_id)
                .where(
                    Escalation.user_id == User.id,
                    Coach.user_id == subject.user_id,
                    Escalation.status != EscalationStatus.closed,
                )
            )
        )
    return query.where(or_(*conditions))


async def readable(session: AsyncSession, subject: Subject, user_id: uuid.UUID) -> User | None:
    """The user `user_id` if `subject` may read their profile."""
    return await session.scalar(readable_by(subject).where(User.id == user_id))


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(
        select(User).where(User.email == normalize_email(email), User.deleted_at.is_(None))
    )


async def get_by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    user = await session.get(User, user_id)
    return user if user is not None and user.deleted_at is None else None


async def get_by_email_or_id(session: AsyncSession, ref: str) -> User | None:
    """Admin tools accept either an email or an id."""
    try:
        return await get_by_id(session, uuid.UUID(ref))
    except ValueError:
        return await get_by_email(session, ref)


async def current_consents(session: AsyncSession, user_id: uuid.UUID) -> dict[str, bool]:
    latest = (
        select(
            ConsentRecord.purpose,
            ConsentRecord.granted,
            func.row_number()
            .over(partition_by=ConsentRecord.purpose, order_by=ConsentRecord.created_at.desc())
            .label("rank"),
        )
        .where(ConsentRecord.user_id == user_id)
        .subquery()
    )
    rows = await session.execute(
        select(latest.c.purpose, latest.c.granted).where(latest.c.rank == 1)
    )
    state = {purpose.value: False for purpose in ConsentPurpose}
    for purpose, granted in rows:
        state[str(purpose.value if hasattr(purpose, "value") else purpose)] = bool(granted)
    return state


async def has_consent(session: AsyncSession, user_id: uuid.UUID, purpose: ConsentPurpose) -> bool:
    """The user's latest decision for one purpose (no record: not granted)."""
    granted = await session.scalar(
        select(ConsentRecord.granted)
        .where(ConsentRecord.user_id == user_id, ConsentRecord.purpose == purpose)
        .order_by(ConsentRecord.created_at.desc())
        .limit(1)
    )
    return bool(granted)


async def consent_history(session: AsyncSession, user_id: uuid.UUID) -> list[ConsentRecord]:
    return list(
        await session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.user_id == user_id)
            .order_by(ConsentRecord.created_at.desc(), ConsentRecord.id)
        )
    )


async def list_users(
    session: AsyncSession, *, role: Role | None = None, limit: int = 100, offset: int = 0
) -> list[User]:
    query = select(User).where(User.deleted_at.is_(None)).order_by(User.created_at)
    if role is not None:
        query = query.where(User.role == role)
    return list(await session.scalars(query.limit(limit).offset(offset)))
