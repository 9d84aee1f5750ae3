"""Opening escalations. The SLA follows urgency; texts are sealed with the user's key.

An automatic escalation names the chat message that caused it, and the database
allows one escalation per message: a retried turn never opens a second one.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.audit import RequestContext, record
from wellcoach.crypto import Vault
from wellcoach.db.base import utcnow
from wellcoach.escalation import repository
from wellcoach.escalation.repository import NewEscalation
from wellcoach.models import Escalation
from wellcoach.models.enums import EscalationReason, EscalationStatus, Urgency

SLA = {
    Urgency.critical: ("1h", timedelta(hours=1)),
    Urgency.high: ("4h", timedelta(hours=4)),
    Urgency.medium: ("24h", timedelta(hours=24)),
    Urgency.low: ("72h", timedelta(hours=72)),
}


async def open_escalation(
    session: AsyncSession,
    vault: Vault,
    *,
    user_id: uuid.UUID,
    reason: EscalationReason,
    urgency: Urgency,
    message: str,
    context: dict[str, Any],
    request: RequestContext,
    session_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
    source: str = "user",
) -> Escalation:
    """Open (or, for a message already escalated, return) an escalation."""
    if message_id is not None:
        existing = await repository.by_message(session, message_id)
        if existing is not None:
            return existing
    label, delay = SLA[urgency]
    now = utcnow()
    escalation_id = uuid.uuid4()
    new = NewEscalation(
        id=escalation_id,
        user_id=user_id,
        session_id=session_id,
        reason=reason,
        urgency=urgency,
        status=EscalationStatus.submitted,
        source=source,
        message_id=message_id,
        message_encrypted=await vault.seal_text(session, user_id, message, purpose="escalation"),
        context_encrypted=await vault.seal_json(
            session, user_id, context, purpose="escalation_context"
        ),
        response_time_sla=label,
        sla_due_at=now + delay,
        created_at=now,
        updated_at=now,
    )
    created = await repository.insert_or_get(session, new)
    if created.id == escalation_id:
        await record(
            session,
            "escalation.open",
            context=request,
            user_id=user_id,
            resource_type="escalation",
            resource_id=escalation_id,
            details={"reason": reason.value, "urgency": urgency.value, "source": source},
        )
    return created
