"""Reading the audit trail of one person: what was done to their data, and what they did.

Reading it is itself a read of their personal data (it holds IP addresses and user
agents), so the use case `read_entries_about` records `audit.viewed`."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.audit.service import RequestContext, record
from wellcoach.models import AuditLog, User

VIEWED = "audit.viewed"


async def entries_about(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    limit: int = 100,
    action_prefix: str | None = None,
) -> list[AuditLog]:
    """The entries about the user (`user_id`) and by the user (`actor_id`), newest
    first; `action_prefix` keeps the actions that start with it (`auth.`, `profile.read`)."""
    query = select(AuditLog).where(or_(AuditLog.user_id == user_id, AuditLog.actor_id == user_id))
    if action_prefix:
        escaped = action_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(AuditLog.action.like(escaped + "%", escape="\\"))
    query = query.order_by(AuditLog.created_at.desc(), AuditLog.id).limit(limit)
    return list(await session.scalars(query))


async def actor_roles(session: AsyncSession, entries: list[AuditLog]) -> dict[uuid.UUID, str]:
    """The current role of each actor of `entries` whose account still exists (an entry's
    own `details.actor_role`, when it has one, says the role at the time)."""
    ids = {entry.actor_id for entry in entries if entry.actor_id is not None}
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.role).where(User.id.in_(ids)))
    return {row.id: row.role.value for row in rows}


async def read_entries_about(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    limit: int,
    action_prefix: str | None,
    context: RequestContext,
    actor_id: uuid.UUID | None = None,
) -> list[AuditLog]:
    """`entries_about`, audited as `audit.viewed` (ids and counts only)."""
    entries = await entries_about(session, user_id, limit=limit, action_prefix=action_prefix)
    details: dict[str, Any] = {"entries": len(entries), "limit": limit}
    if action_prefix:
        details["action_prefix"] = action_prefix
    await record(
        session,
        VIEWED,
        context=context,
        user_id=user_id,
        actor_id=actor_id,
        resource_type="audit_log",
        resource_id=user_id,
        details=details,
    )
    return entries
