"""Who handles an escalation: automatic assignment, and a coach's claim or an admin's
reassignment. Every path goes through the state machine (`workflow.transition`).

Automatic assignment picks, among the coaches who are switched on, inside one of
their availability windows at `now` and below their capacity:

1. a coach who speaks the user's language and knows the user's sport;
2. else one who speaks the language;
3. else one who knows the sport;
4. else any of them;

and inside the first group that is not empty, the one holding the fewest open cases
(ties: by name, then id, so the choice is deterministic).

When nobody is available, a non-critical case stays `triaged` in the queue (the SLA
watcher tries again). A critical case cannot wait for office hours: it goes, by the
same preferences, to a switched-on coach outside their window who still has room, and
is paged (`EscalationSettings.sla["critical"].page_immediately`). A coach at capacity
never receives a case, critical or not, from the automatic path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.access import Subject
from wellcoach.accounts import repository as accounts
from wellcoach.audit import RequestContext
from wellcoach.audit.service import SYSTEM
from wellcoach.crypto import Vault
from wellcoach.db.base import utcnow
from wellcoach.escalation import repository
from wellcoach.escalation.coaches import is_available
from wellcoach.escalation.errors import CoachAtCapacity, IllegalTransition
from wellcoach.escalation.workflow import transition
from wellcoach.models import Coach, Escalation
from wellcoach.models.enums import EscalationStatus, Urgency


def choose(
    candidates: Sequence[tuple[Coach, int]],
    *,
    sport: str | None,
    language: str | None,
    at: datetime,
    urgency: Urgency,
) -> Coach | None:
    """The coach for a case, from (coach, open cases) pairs; None when nobody fits."""
    with_room = [(c, load) for c, load in candidates if c.available and load < c.max_open_cases]
    pool = [(c, load) for c, load in with_room if is_available(c, at)]
    if not pool and urgency == Urgency.critical:
        pool = with_room
    if not pool:
        return None
    sport = sport.strip().lower() if sport else None
    language = language.strip().lower() if language else None

    def speaks(coach: Coach) -> bool:
        return language is not None and language in (coach.languages or [])

    def knows(coach: Coach) -> bool:
        return sport is not None and sport in (coach.sports or [])

    for fits in (
        lambda c: speaks(c) and knows(c),
        speaks,
        knows,
        lambda c: True,
    ):
        group = [(c, load) for c, load in pool if fits(c)]
        if group:
            return min(group, key=lambda pair: (pair[1], pair[0].display_name, str(pair[0].id)))[0]
    return None  # pragma: no cover - the last group takes everyone


async def auto_assign(
    session: AsyncSession,
    vault: Vault,
    escalation: Escalation,
    *,
    now: datetime | None = None,
    request: RequestContext = SYSTEM,
) -> Coach | None:
    """Assign a triaged escalation to the best available coach; None leaves it in the
    queue. The coach rows are locked, so concurrent assignments respect capacity."""
    now = now or utcnow()
    if escalation.status != EscalationStatus.triaged:
        raise IllegalTransition(
            f"Only a triaged escalation is assigned automatically (this one is"
            f" {escalation.status.value})."
        )
    user = await accounts.get_by_id(session, escalation.user_id)
    language = (user.preferences or {}).get("language") if user is not None else None
    candidates = await repository.coaches_with_load(session, only_switched_on=True, lock=True)
    coach = choose(
        candidates,
        sport=user.sport if user is not None else None,
        language=language,
        at=now,
        urgency=escalation.urgency,
    )
    if coach is not None:
        await transition(
            session,
            vault,
            escalation,
            EscalationStatus.assigned,
            actor=None,
            now=now,
            coach_id=coach.id,
            request=request,
        )
    return coach


async def _give_to(
    session: AsyncSession,
    vault: Vault,
    escalation: Escalation,
    coach: Coach,
    *,
    actor: Subject | None,
    now: datetime | None,
    note: str | None,
    request: RequestContext,
) -> None:
    locked = await repository.coach_by_id(session, coach.id, lock=True)
    assert locked is not None
    if await repository.load_of(session, coach.id) >= locked.max_open_cases:
        raise CoachAtCapacity(
            f"{locked.display_name} already holds {locked.max_open_cases} open case(s).",
            details={"coach_id": str(coach.id), "capacity": locked.max_open_cases},
        )
    await transition(
        session,
        vault,
        escalation,
        EscalationStatus.assigned,
        actor=actor,
        now=now,
        note=note,
        coach_id=coach.id,
        request=request,
    )


async def claim(
    session: AsyncSession,
    vault: Vault,
    escalation: Escalation,
    coach: Coach,
    *,
    actor: Subject | None,
    now: datetime | None = None,
    note: str | None = None,
    request: RequestContext = SYSTEM,
) -> None:
    """A coach takes a triaged case from the queue (within their capacity)."""
    if escalation.status != EscalationStatus.triaged:
        raise IllegalTransition(
            f"Only a triaged escalation can be claimed (this one is {escalation.status.value});"
            " an assigned one is reassigned."
        )
    await _give_to(
        session, vault, escalation, coach, actor=actor, now=now, note=note, request=request
    )


async def reassign(
    session: AsyncSession,
    vault: Vault,
    escalation: Escalation,
    coach: Coach,
    *,
    actor: Subject | None,
    now: datetime | None = None,
    note: str | None = None,
    request: RequestContext = SYSTEM,
) -> None:
    """Move an assigned case to another coach (within their capacity)."""
    if escalation.status != EscalationStatus.assigned:
        raise IllegalTransition(
            f"Only an assigned escalation can be reassigned (this one is"
            f" {escalation.status.value})."
        )
    await _give_to(
        session, vault, escalation, coach, actor=actor, now=now, note=note, request=request
    )
