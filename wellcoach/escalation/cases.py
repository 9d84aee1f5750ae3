"""Working a case: triage, the queue, reading one (audited), assigning and closing.
What the CLI, the dashboard and jobs call; each is one use case over the workflow."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.access import Subject
from wellcoach.audit import RequestContext, record
from wellcoach.audit.service import SYSTEM
from wellcoach.crypto import Vault
from wellcoach.db.base import utcnow
from wellcoach.errors import Forbidden, InvalidInput, NotFound
from wellcoach.escalation import repository
from wellcoach.escalation.assignment import claim, reassign
from wellcoach.escalation.triage import RECENT_SCORES, assess
from wellcoach.escalation.workflow import transition
from wellcoach.models import Coach, Escalation
from wellcoach.models.enums import EscalationReason, EscalationStatus, Role


def summary(escalation: Escalation) -> dict[str, Any]:
    """An escalation without its personal texts: what a queue lists."""
    return {
        "id": str(escalation.id),
        "user_id": str(escalation.user_id),
        "session_id": str(escalation.session_id) if escalation.session_id else None,
        "reason": escalation.reason.value,
        "urgency": escalation.urgency.value,
        "status": escalation.status.value,
        "priority": escalation.priority,
        "source": escalation.source,
        "assigned_coach": (
            str(escalation.assigned_coach_id) if escalation.assigned_coach_id else None
        ),
        "response_time_sla": escalation.response_time_sla,
        "sla_due_at": escalation.sla_due_at,
        "sla_breached_at": escalation.sla_breached_at,
        "first_response_at": escalation.first_response_at,
        "created_at": escalation.created_at,
    }


async def triage_escalation(
    session: AsyncSession,
    vault: Vault,
    escalation: Escalation,
    *,
    health_alerts: int | None = None,
    now: datetime | None = None,
    request: RequestContext = SYSTEM,
) -> Escalation:
    """Score a submitted escalation (`triage.assess`), store the priority and its
    reasons, and move it to `triaged`. `health_alerts` counts the user's health alerts;
    by default, those the escalation's context recorded when it was opened (the
    athlete's consented health data, `context.health_alerts`)."""
    if health_alerts is None:
        context = await _context_of(session, vault, escalation)
        health_alerts = len(context.get("health_alerts") or ())
    moods, stresses = await repository.recent_scores(session, escalation.user_id, RECENT_SCORES)
    crisis = escalation.source == "auto_crisis" or (
        escalation.reason == EscalationReason.emergency_support
    )
    result = assess(
        escalation.reason,
        escalation.urgency,
        crisis=crisis,
        moods=moods,
        stresses=stresses,
        health_alerts=health_alerts,
    )
    escalation.priority = result.priority
    escalation.triage = result.as_json()
    await transition(
        session,
        vault,
        escalation,
        EscalationStatus.triaged,
        actor=None,
        now=now,
        request=request,
    )
    return escalation


async def _context_of(
    session: AsyncSession, vault: Vault, escalation: Escalation
) -> dict[str, Any]:
    if escalation.context_encrypted is None:
        return {}
    found = await vault.open_json(
        session, escalation.user_id, escalation.context_encrypted, purpose="escalation_context"
    )
    return found if isinstance(found, dict) else {}


async def queue(
    session: AsyncSession,
    reader: Subject,
    *,
    status: EscalationStatus | None = None,
    limit: int = 100,
) -> list[Escalation]:
    return await repository.listing(session, reader, status=status, limit=limit)


async def readable(session: AsyncSession, reader: Subject, escalation_id: str) -> Escalation:
    """The escalation `escalation_id`, if `reader` may read it; locked for update."""
    try:
        wanted = uuid.UUID(escalation_id)
    except ValueError as exc:
        raise InvalidInput(f"{escalation_id!r} is not an escalation id.") from exc
    found = await session.scalar(
        repository.escalations_readable_by(reader).where(Escalation.id == wanted).with_for_update()
    )
    if found is None:
        raise NotFound(f"No escalation {escalation_id}.")
    return found


@dataclass(frozen=True)
class CaseView:
    escalation: Escalation
    message: str
    context: dict[str, Any]
    events: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            **summary(self.escalation),
            "triage": self.escalation.triage or {},
            "triaged_at": self.escalation.triaged_at,
            "assigned_at": self.escalation.assigned_at,
            "closed_at": self.escalation.closed_at,
            "message": self.message,
            "context": self.context,
            "events": self.events,
        }


async def read_case(
    session: AsyncSession,
    vault: Vault,
    reader: Subject,
    escalation_id: str,
    *,
    request: RequestContext = SYSTEM,
) -> CaseView:
    """The escalation with its texts opened, for someone who handles it. Reading another
    person's texts is audited (`escalation.viewed`)."""
    escalation = await readable(session, reader, escalation_id)
    user_id = escalation.user_id
    message = await vault.open_text(
        session, user_id, escalation.message_encrypted, purpose="escalation"
    )
    context: dict[str, Any] = {}
    if escalation.context_encrypted is not None:
        context = await vault.open_json(
            session, user_id, escalation.context_encrypted, purpose="escalation_context"
        )
    events = []
    for event in await repository.events_of(session, escalation.id):
        note = None
        if event.note_encrypted is not None:
            note = await vault.open_json(
                session, user_id, event.note_encrypted, purpose="escalation_event"
            )
        events.append(
            {
                "at": event.created_at,
                "actor_id": str(event.actor_id) if event.actor_id else None,
                "from": event.from_status,
                "to": event.to_status,
                "note": note,
            }
        )
    if reader.user_id != user_id:
        await record(
            session,
            "escalation.viewed",
            context=request,
            user_id=user_id,
            actor_id=reader.user_id,
            resource_type="escalation",
            resource_id=escalation.id,
            details={"role": reader.role.value},
        )
    return CaseView(escalation, message, context, events)


async def assign_case(
    session: AsyncSession,
    vault: Vault,
    escalation: Escalation,
    coach: Coach,
    *,
    actor: Subject,
    now: datetime | None = None,
    request: RequestContext = SYSTEM,
) -> Escalation:
    """Give a case to `coach` by hand: a submitted case is triaged first, a triaged one
    is claimed for the coach, an assigned one reassigned. Later statuses are refused by
    the state machine (the coach already works it)."""
    if not actor.is_admin and actor.role != Role.coach:
        raise Forbidden("Only coaches and admins assign escalations.")
    now = now or utcnow()
    if escalation.status == EscalationStatus.submitted:
        await triage_escalation(session, vault, escalation, now=now, request=request)
    if escalation.status == EscalationStatus.assigned:
        await reassign(session, vault, escalation, coach, actor=actor, now=now, request=request)
    else:
        await claim(session, vault, escalation, coach, actor=actor, now=now, request=request)
    return escalation


async def close_case(
    session: AsyncSession,
    vault: Vault,
    escalation: Escalation,
    *,
    actor: Subject,
    note: str | None = None,
    now: datetime | None = None,
    request: RequestContext = SYSTEM,
) -> Escalation:
    await transition(
        session,
        vault,
        escalation,
        EscalationStatus.closed,
        actor=actor,
        now=now,
        note=note,
        request=request,
    )
    return escalation
