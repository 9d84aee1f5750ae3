"""Email outbox queries: the development mailbox and the delivery job's batch."""

from __future__ import annotations

from sqlalchemy import select
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
