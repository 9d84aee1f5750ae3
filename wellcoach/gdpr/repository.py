"""Queries of GDPR requests (exports and erasures)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.db.session import rows_affected
from wellcoach.models import (
    AuditLog,
    ChatSession,
    Coach,
    ConsentRecord,
    EmailOutbox,
    Escalation,
    EscalationEvent,
    GdprRequest,
    HealthImport,
    LlmCall,
    Message,
    MoodEntry,
    OneTimeToken,
    RecoveryCode,
    RefreshToken,
    User,
)
from wellcoach.models.costs import CostAlert
from wellcoach.models.enums import GdprKind, GdprStatus

# every table with rows of the user, deleted with the user row (foreign keys cascade):
# counted first, for the erasure's certificate
OWNED = {
    "chat_sessions": ChatSession.user_id,
    "messages": Message.user_id,
    "mood_entries": MoodEntry.user_id,
    "escalations": Escalation.user_id,
    "consent_records": ConsentRecord.user_id,
    "email_outbox": EmailOutbox.user_id,
    "health_imports": HealthImport.user_id,
    "refresh_tokens": RefreshToken.user_id,
    "one_time_tokens": OneTimeToken.user_id,
    "recovery_codes": RecoveryCode.user_id,
    "coaches": Coach.user_id,
}


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


async def owned_rows(session: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    """How many rows of each table are the user's (their cases' events included)."""
    counts = {
        name: int(await session.scalar(select(func.count()).where(column == user_id)) or 0)
        for name, column in OWNED.items()
    }
    counts["escalation_events"] = int(
        await session.scalar(
            select(func.count())
            .select_from(EscalationEvent)
            .join(Escalation, Escalation.id == EscalationEvent.escalation_id)
            .where(Escalation.user_id == user_id)
        )
        or 0
    )
    return counts


async def health_import_ids(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        await session.scalars(select(HealthImport.id).where(HealthImport.user_id == user_id))
    )


async def delete_one_time_tokens(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(OneTimeToken).where(OneTimeToken.user_id == user_id))


async def repoint_ledger(session: AsyncSession, user_id: uuid.UUID, pseudonym: uuid.UUID) -> int:
    """The user's cost-ledger rows and budget alerts point to `pseudonym`; how many
    ledger rows."""
    await session.execute(
        update(CostAlert).where(CostAlert.user_id == user_id).values(user_id=pseudonym)
    )
    return await rows_affected(
        session, update(LlmCall).where(LlmCall.user_id == user_id).values(user_id=pseudonym)
    )


async def delete_mail_to(session: AsyncSession, address: str) -> int:
    """Mail to the address without an account link (a reset asked while signed out)."""
    return await rows_affected(
        session, delete(EmailOutbox).where(EmailOutbox.to_address == address)
    )


async def pseudonymize(session: AsyncSession, user_id: uuid.UUID, pseudonym: uuid.UUID) -> int:
    """Rows that outlive the user (the audit trail, webhook deliveries, coaches' case
    events) keep what happened, not who it happened to, nor from where; how many audit
    entries named the user."""
    touched = 0
    for column in (AuditLog.user_id, AuditLog.actor_id):
        touched += await rows_affected(
            session,
            update(AuditLog)
            .where(column == user_id)
            .values({column.key: pseudonym, "ip_address": None, "user_agent": None}),
        )
    await session.execute(
        update(AuditLog)
        .where(AuditLog.resource_id == str(user_id))
        .values(resource_id=str(pseudonym))
    )
    await session.execute(
        update(EscalationEvent)
        .where(EscalationEvent.actor_id == user_id)
        .values(actor_id=pseudonym)
    )
    for table, field in (("audit_logs", "details"), ("webhook_deliveries", "payload")):
        await session.execute(
            text(
                f"UPDATE {table} SET {field} = replace({field}::text, :old, :new)::jsonb"
                f" WHERE {field}::text LIKE :pattern"
            ),
            {"old": str(user_id), "new": str(pseudonym), "pattern": f"%{user_id}%"},
        )
    return touched
