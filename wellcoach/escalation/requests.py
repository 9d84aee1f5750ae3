"""An athlete asks for a human coach (`POST /v1/escalations`), and sees their requests.

A request is opened (sealed with the user's key, SLA by urgency), triaged and, when a
matching coach is available, assigned, in one transaction: the athlete's answer already
says whether someone has it. Only the user's own chat session may be named.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.audit import RequestContext
from wellcoach.config import EscalationSettings
from wellcoach.crypto import Vault
from wellcoach.errors import NotFound
from wellcoach.escalation import repository
from wellcoach.escalation.assignment import auto_assign
from wellcoach.escalation.cases import triage_escalation
from wellcoach.escalation.service import open_escalation
from wellcoach.models import Escalation
from wellcoach.models.enums import EscalationReason, Urgency

# what a user may always ask for, whatever their quota: a crisis is never rate limited
NEVER_LIMITED_URGENCY = frozenset({Urgency.critical})
NEVER_LIMITED_REASONS = frozenset({EscalationReason.emergency_support})


def is_rate_limited(reason: EscalationReason, urgency: Urgency) -> bool:
    """Whether the `escalation` policy (3 a day) applies: never to critical or emergency
    requests."""
    return urgency not in NEVER_LIMITED_URGENCY and reason not in NEVER_LIMITED_REASONS


@dataclass(frozen=True)
class HelpRequest:
    reason: EscalationReason
    urgency: Urgency
    message: str
    session_id: uuid.UUID | None = None
    recent_mood_scores: tuple[int, ...] = ()
    # what the athlete's consented health data flags now (sealed into the context,
    # shown to the coach, and raising the triage priority)
    health_alerts: tuple[str, ...] = ()


@dataclass(frozen=True)
class UsersEscalation:
    """One of the user's escalations as they see it: their own text, the state, the SLA."""

    escalation: Escalation
    message: str
    coach_name: str | None


async def request_help(
    session: AsyncSession,
    vault: Vault,
    policy: EscalationSettings,
    *,
    user_id: uuid.UUID,
    data: HelpRequest,
    request: RequestContext,
    now: datetime | None = None,
) -> UsersEscalation:
    """The new escalation as the athlete sees it (their text, the coach it went to)."""
    if data.session_id is not None and not await repository.owns_chat_session(
        session, user_id, data.session_id
    ):
        raise NotFound("No such chat session.")
    context: dict[str, Any] = {"recent_mood_scores": list(data.recent_mood_scores)}
    if data.health_alerts:
        context["health_alerts"] = list(data.health_alerts)
    if data.session_id is not None:
        context["session_id"] = str(data.session_id)
    escalation = await open_escalation(
        session,
        vault,
        user_id=user_id,
        reason=data.reason,
        urgency=data.urgency,
        message=data.message,
        context=context,
        request=request,
        session_id=data.session_id,
        source="user",
        policy=policy,
        now=now,
    )
    await triage_escalation(session, vault, escalation, now=now, request=request)
    coach = await auto_assign(session, vault, escalation, now=now, request=request)
    return UsersEscalation(escalation, data.message, coach.display_name if coach else None)


async def escalations_of(
    session: AsyncSession, vault: Vault, user_id: uuid.UUID, *, limit: int = 50
) -> list[UsersEscalation]:
    """The user's own escalations, newest first, with their own text."""
    found = []
    for escalation, coach_name in await repository.of_user(session, user_id, limit=limit):
        text = await vault.open_text(
            session, user_id, escalation.message_encrypted, purpose="escalation"
        )
        found.append(UsersEscalation(escalation, text, coach_name))
    return found
