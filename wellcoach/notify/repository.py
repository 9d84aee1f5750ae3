"""Email outbox queries: the development mailbox and the delivery job's batch."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.models import EmailOutbox
from wellcoach.models.enums import DeliveryStatus


async def latest_emails(
    session: AsyncSession, *, to: str | None = None, limit: int = 20
) -> list[EmailOutbox]:
    """Newest first, optionally only those sent to `to` (compared lower-cased, as stored)."""
    query = select(EmailOutbox).order_by(EmailOutbox.created_at.desc()).limit(limit)
    if to:
        query = query.where(EmailOutbox.to_address == to.lower())
    return list(await session.scalars(query))


async def lock_pending(session: AsyncSession, limit: int) -> list[EmailOutbox]:
    """The oldest pending emails, locked until the transaction ends. SKIP LOCKED lets two
    delivery jobs run at once without sending an email twice or waiting on each other."""
    return list(
        await session.scalars(
            select(EmailOutbox)
            .where(EmailOutbox.status == DeliveryStatus.pending)
            .order_by(EmailOutbox.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


async def forget_bodies(
    session: AsyncSession, templates: Collection[str], created_before: datetime, tombstone: str
) -> int:
    """Replace the bodies of `templates` emails created before a time with `tombstone`."""
    result = await session.execute(
        update(EmailOutbox)
        .where(
            EmailOutbox.template.in_(templates),
            EmailOutbox.created_at < created_before,
            EmailOutbox.body != tombstone,
        )
        .values(body=tombstone)
    )
    return int(getattr(result, "rowcount", 0) or 0)
