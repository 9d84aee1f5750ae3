"""Queries of GDPR requests (exports and erasures)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.models import GdprRequest, User
from wellcoach.models.enums import GdprKind, GdprStatus


async def scheduled_erasure(session: AsyncSession, user_id: uuid.UUID) -> GdprRequest | None:
    """The user's erasure in its grace period, locked."""
    return await session.scalar(
        select(GdprRequest)
        .where(
            GdprRequest.user_id == user_id,
            GdprRequest.kind == GdprKind.erasure,
            GdprRequest.status == GdprStatus.scheduled,
        )
        .with_for_update()
    )


async def open_export(
    session: AsyncSession, user_id: uuid.UUID, statuses: Collection[GdprStatus]
) -> GdprRequest | None:
    """The user's latest export in one of `statuses` (one still pending or running)."""
    return await session.scalar(
        select(GdprRequest)
        .where(
            GdprRequest.user_id == user_id,
            GdprRequest.kind == GdprKind.export,
            GdprRequest.status.in_(statuses),
        )
        .order_by(GdprRequest.requested_at.desc())
        .limit(1)
    )


async def due_erasures(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """Scheduled erasures whose grace period is over."""
    rows = await session.scalars(
        select(GdprRequest.id).where(
            GdprRequest.kind == GdprKind.erasure,
            GdprRequest.status == GdprStatus.scheduled,
            GdprRequest.due_at <= now,
        )
    )
    return list(rows)


async def user_by_ref(session: AsyncSession, ref: str) -> User | None:
    """An account by email or id, a closed one (in its erasure's grace period) included."""
    try:
        return await session.get(User, uuid.UUID(ref), with_for_update=True)
    except ValueError:
        return await session.scalar(
            select(User).where(User.email == ref.strip().lower()).with_for_update()
        )


async def recent(session: AsyncSession, limit: int) -> list[GdprRequest]:
    return list(
        await session.scalars(
            select(GdprRequest).order_by(GdprRequest.requested_at.desc()).limit(limit)
        )
    )
