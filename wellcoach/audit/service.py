"""Append-only audit entries. Details carry ids and flags, never secrets or contents."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.models import AuditLog


@dataclass(frozen=True)
class RequestContext:
    """Where an action came from; adapters build it (HTTP: client ip, user agent)."""

    ip_address: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    source: str = "api"


SYSTEM = RequestContext(source="system")


async def record(
    session: AsyncSession,
    action: str,
    *,
    context: RequestContext = SYSTEM,
    user_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    resource_type: str | None = None,
    resource_id: str | uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(
        action=action,
        user_id=user_id,
        actor_id=actor_id,
        resource_type=resource_type,
        resource_id=str(resource_id) if resource_id is not None else None,
        details={"source": context.source, **(details or {})},
        ip_address=context.ip_address,
        user_agent=(context.user_agent or "")[:255] or None,
        request_id=context.request_id,
    )
    session.add(entry)
    await session.flush()
    return entry


async def record_each(
    session: AsyncSession,
    action: str,
    user_ids: Iterable[uuid.UUID],
    *,
    context: RequestContext = SYSTEM,
    actor_id: uuid.UUID | None = None,
    resource_type: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """One entry per user, so that each one's own trail shows the action (a listing of
    accounts, of emails), flushed once; how many were written."""
    entries = [
        AuditLog(
            action=action,
            user_id=user_id,
            actor_id=actor_id,
            resource_type=resource_type,
            details={"source": context.source, **(details or {})},
            ip_address=context.ip_address,
            user_agent=(context.user_agent or "")[:255] or None,
            request_id=context.request_id,
        )
        for user_id in dict.fromkeys(user_ids)
    ]
    session.add_all(entries)
    await session.flush()
    return len(entries)
