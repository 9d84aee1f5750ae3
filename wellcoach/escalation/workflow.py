"""The escalation state machine: one explicit table of legal moves, one function that
makes them.

    submitted → triaged → assigned → in_progress → responded → closed
    assigned → assigned        a reassignment to another coach
    responded → in_progress    the user wrote again after the coach's answer
    any open status → closed   by a coach or an admin only

Every move writes an `EscalationEvent` (actor, from, to, time, an optional note sealed
with the user's key) and an audit entry `escalation.<to>`, and sets the timestamp of
the status it enters. The clock is a parameter (`now`) so the SLA rules can be tested:
the first `responded` sets `first_response_at`; a case whose first response comes
after `sla_due_at`, or that is seen open past it without one, gets `sla_breached_at`
(the deadline it missed, so the value does not depend on when someone looked).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.access import Subject
from wellcoach.audit import RequestContext, record
from wellcoach.audit.service import SYSTEM
from wellcoach.crypto import Vault
from wellcoach.db.base import utcnow
from wellcoach.errors import InvalidInput
from wellcoach.escalation import repository
from wellcoach.escalation.errors import IllegalTransition
from wellcoach.models import Escalation, EscalationEvent
from wellcoach.models.enums import EscalationStatus, Role

S = EscalationStatus

TRANSITIONS: MappingProxyType[EscalationStatus, frozenset[EscalationStatus]] = MappingProxyType(
    {
        S.submitted: frozenset({S.triaged, S.closed}),
        S.triaged: frozenset({S.assigned, S.closed}),
        S.assigned: frozenset({S.assigned, S.in_progress, S.closed}),
        S.in_progress: frozenset({S.responded, S.closed}),
        S.responded: frozenset({S.in_progress, S.closed}),
        S.closed: frozenset(),
    }
)
OPEN_STATUSES = frozenset(status for status in S if status != S.closed)
# who may close: the humans who handle cases, never the user or the platform itself
CLOSERS = frozenset({Role.coach, Role.admin})


class _EventIds:
    """Time-ordered event ids (the UUIDv7 layout: milliseconds, then a counter, then
    random bits), so events written in one instant, such as triage then assignment,
    read back in the order they happened (`ORDER BY created_at, id`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = (0, 0)

    def next(self) -> uuid.UUID:
        with self._lock:
            millis = time.time_ns() // 1_000_000
            last_millis, counter = self._last
            if millis <= last_millis:
                millis, counter = last_millis, counter + 1
                if counter > 0xFFF:
                    millis, counter = millis + 1, 0
            else:
                counter = 0
            self._last = (millis, counter)
        tail = int.from_bytes(os.urandom(8)) & ((1 << 62) - 1)
        value = (millis << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | tail
        return uuid.UUID(int=value)


event_id = _EventIds().next


def allowed(current: EscalationStatus, to: EscalationStatus) -> bool:
    return to in TRANSITIONS[current]


def mark_breach_if_due(escalation: Escalation, now: datetime) -> bool:
    """Record a breach of the SLA (no first response and the deadline passed); True when
    this call recorded it. Idempotent: a breach is recorded once."""
    if escalation.sla_breached_at is not None or escalation.first_response_at is not None:
        return False
    if now <= escalation.sla_due_at:
        return False
    escalation.sla_breached_at = escalation.sla_due_at
    return True


async def transition(
    session: AsyncSession,
    vault: Vault,
    escalation: Escalation,
    to: EscalationStatus,
    *,
    actor: Subject | None,
    now: datetime | None = None,
    note: str | None = None,
    coach_id: uuid.UUID | None = None,
    request: RequestContext = SYSTEM,
) -> EscalationEvent:
    """Move `escalation` to `to`, or raise `IllegalTransition`.

    `actor` None is the platform itself (triage, automatic assignment). `coach_id` is
    required to enter `assigned`. Flushes, never commits.
    """
    now = now or utcnow()
    current = escalation.status
    if not allowed(current, to):
        raise IllegalTransition(
            f"An escalation that is {current.value} cannot become {to.value}.",
            details={
                "from": current.value,
                "to": to.value,
                "allowed": sorted(s.value for s in TRANSITIONS[current]),
            },
        )
    if to == S.closed and (actor is None or actor.role not in CLOSERS):
        raise IllegalTransition("Only a coach or an admin closes an escalation.")
    if to == S.assigned:
        if coach_id is None:
            raise InvalidInput("Assigning an escalation needs a coach.")
        if current == S.assigned and coach_id == escalation.assigned_coach_id:
            raise IllegalTransition("The escalation is already assigned to this coach.")
    details: dict[str, Any] = {"from": current.value, "to": to.value}
    breached = mark_breach_if_due(escalation, now)
    if to == S.triaged:
        escalation.triaged_at = now
    elif to == S.assigned:
        details["coach_id"] = str(coach_id)
        if escalation.assigned_coach_id is not None:
            details["previous_coach_id"] = str(escalation.assigned_coach_id)
        escalation.assigned_coach_id = coach_id
        escalation.assigned_at = now
    elif to == S.responded and escalation.first_response_at is None:
        escalation.first_response_at = now
        details["first_response_seconds"] = int((now - escalation.created_at).total_seconds())
    elif to == S.closed:
        escalation.closed_at = now
    escalation.status = to
    escalation.updated_at = now
    event = EscalationEvent(
        id=event_id(),
        escalation_id=escalation.id,
        actor_id=actor.user_id if actor is not None else None,
        from_status=current.value,
        to_status=to.value,
        note_encrypted=(
            await vault.seal_json(
                session,
                escalation.user_id,
                {"kind": "note", "text": note},
                purpose="escalation_event",
            )
            if note
            else None
        ),
        created_at=now,
    )
    repository.add_event(session, event)
    if breached:
        details["sla_breached"] = True
    await record(
        session,
        f"escalation.{to.value}",
        context=request,
        user_id=escalation.user_id,
        actor_id=actor.user_id if actor is not None else None,
        resource_type="escalation",
        resource_id=escalation.id,
        details=details,
    )
    return event


async def record_breach(
    session: AsyncSession,
    escalation: Escalation,
    *,
    now: datetime | None = None,
    request: RequestContext = SYSTEM,
) -> bool:
    """For a watcher that looks at open cases: mark a missed deadline once, audited as
    `escalation.sla_breached`. True when this call marked it."""
    if escalation.status == S.closed or not mark_breach_if_due(escalation, now or utcnow()):
        return False
    await record(
        session,
        "escalation.sla_breached",
        context=request,
        user_id=escalation.user_id,
        resource_type="escalation",
        resource_id=escalation.id,
        details={"status": escalation.status.value, "urgency": escalation.urgency.value},
    )
    return True
