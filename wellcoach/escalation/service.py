"""Escalation use cases: opening, triage, listing, reading, assigning, closing.

The SLA follows urgency, from `EscalationSettings` (config: `escalation.sla`); texts
are sealed with the user's key.

An automatic escalation names the chat message that caused it, and the database
allows one escalation per message: a retried turn never opens a second one. A user
has at most one open crisis escalation: a crisis turn while one is open adds to it
(its context and its event trail), so one human follows the whole crisis and nobody
is paged twice for it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.audit import RequestContext, record
from wellcoach.config import EscalationSettings, get_settings
from wellcoach.crypto import Vault
from wellcoach.db.base import utcnow
from wellcoach.escalation import repository
from wellcoach.escalation.repository import NewEscalation
from wellcoach.escalation.workflow import event_id
from wellcoach.models import Escalation, EscalationEvent
from wellcoach.models.enums import EscalationReason, EscalationStatus, Urgency


def sla_for(policy: EscalationSettings, urgency: Urgency) -> tuple[str, timedelta]:
    """The contract's label ("4h") and the delay to the deadline for `urgency`."""
    target = policy.sla[urgency.value]
    return target.label, timedelta(hours=target.hours)


def near_deadline(policy: EscalationSettings, escalation: Escalation, now: datetime) -> bool:
    """An open case without a first response that has used `near_deadline` of its SLA."""
    if escalation.status == EscalationStatus.closed or escalation.first_response_at is not None:
        return False
    allowed = escalation.sla_due_at - escalation.created_at
    return now >= escalation.created_at + allowed * policy.near_deadline


def _policy(given: EscalationSettings | None) -> EscalationSettings:
    """The SLA policy a caller passed, else the configured one (callers that predate the
    parameter, such as the chat turn, still follow the configuration)."""
    return given if given is not None else get_settings().escalation


# follow-up crisis messages kept in an escalation's context (the event trail keeps all)
CONTEXT_FOLLOWUPS = 20


@dataclass(frozen=True)
class Escalated:
    escalation: Escalation
    opened: bool  # False: the turn was added to the crisis escalation already open


async def escalate_crisis(
    session: AsyncSession,
    vault: Vault,
    *,
    user_id: uuid.UUID,
    message: str,
    category: str | None,
    context: dict[str, Any],
    request: RequestContext,
    session_id: uuid.UUID,
    message_id: uuid.UUID,
    policy: EscalationSettings | None = None,
) -> Escalated:
    """A crisis turn: open a critical escalation, or add this turn to the user's
    crisis escalation still open."""
    existing = await repository.by_message(session, message_id)
    if existing is not None:  # a retried turn
        return Escalated(existing, opened=False)
    open_case = await repository.open_crisis_of(session, user_id)
    if open_case is None:
        opened = await open_escalation(
            session,
            vault,
            user_id=user_id,
            reason=EscalationReason.emergency_support,
            urgency=Urgency.critical,
            message=message,
            context=context,
            request=request,
            session_id=session_id,
            message_id=message_id,
            source="auto_crisis",
            policy=policy,
        )
        return Escalated(opened, opened=True)
    await _add_crisis_turn(
        session,
        vault,
        open_case,
        message=message,
        category=category,
        request=request,
        session_id=session_id,
        message_id=message_id,
    )
    return Escalated(open_case, opened=False)


async def _add_crisis_turn(
    session: AsyncSession,
    vault: Vault,
    escalation: Escalation,
    *,
    message: str,
    category: str | None,
    request: RequestContext,
    session_id: uuid.UUID,
    message_id: uuid.UUID,
) -> None:
    user_id, now = escalation.user_id, utcnow()
    context: dict[str, Any] = {}
    if escalation.context_encrypted is not None:
        context = await vault.open_json(
            session, user_id, escalation.context_encrypted, purpose="escalation_context"
        )
    followup = {
        "message_id": str(message_id),
        "session_id": str(session_id),
        "category": category,
        "at": now.isoformat(),
    }
    context["followups"] = [*context.get("followups", []), followup][-CONTEXT_FOLLOWUPS:]
    escalation.context_encrypted = await vault.seal_json(
        session, user_id, context, purpose="escalation_context"
    )
    escalation.updated_at = now
    repository.add_event(
        session,
        EscalationEvent(
            id=event_id(),
            escalation_id=escalation.id,
            actor_id=None,
            from_status=escalation.status.value,
            to_status=escalation.status.value,
            note_encrypted=await vault.seal_json(
                session,
                user_id,
                {"kind": "crisis_followup", "text": message, **followup},
                purpose="escalation_event",
            ),
            created_at=now,
        ),
    )
    await record(
        session,
        "escalation.crisis_added",
        context=request,
        user_id=user_id,
        resource_type="escalation",
        resource_id=escalation.id,
        details={"message_id": str(message_id), "category": category},
    )


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
    policy: EscalationSettings | None = None,
    now: datetime | None = None,
) -> Escalation:
    """Open (or, for a message already escalated, return) an escalation."""
    if message_id is not None:
        existing = await repository.by_message(session, message_id)
        if existing is not None:
            return existing
    label, delay = sla_for(_policy(policy), urgency)
    now = now or utcnow()
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
