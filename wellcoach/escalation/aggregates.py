"""Team aggregates of escalations: a repository of counts only, for team managers.

Managers may not read anyone's escalation (`repository.escalations_readable_by`), but
they may see how their team is doing: open cases by urgency and status, the median time
to a first response, SLA breaches this week. Nothing here returns an id, a name or a
text; counts under `SMALLEST_SHOWN` are withheld (None) so that no athlete can be
picked out of a small group.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.models import Escalation, User
from wellcoach.models.enums import EscalationStatus

# below this, a count could point at one athlete: it is shown as "fewer than 3"
SMALLEST_SHOWN = 3
# first responses counted in the median
RESPONSE_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class TeamAggregates:
    """Counts for one team (or all, for an administrator); None means withheld."""

    team: str | None
    open_total: int | None
    by_urgency: dict[str, int | None]
    by_status: dict[str, int | None]
    median_first_response: timedelta | None
    responses_counted: int | None
    breaches_this_week: int | None


def withheld(count: int) -> int | None:
    """A count as it may be shown: zero and counts from `SMALLEST_SHOWN` up; else None."""
    return count if count == 0 or count >= SMALLEST_SHOWN else None


def start_of_week(now: datetime) -> datetime:
    """Monday 00:00 UTC of `now`'s ISO week."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _of_team(team: str | None) -> list[ColumnElement[bool]]:
    """The condition that keeps the escalations of `team`'s athletes (none: all)."""
    if team is None:
        return []
    return [Escalation.user_id.in_(select(User.id).where(User.team == team))]


async def team_aggregates(
    session: AsyncSession, team: str | None, *, now: datetime
) -> TeamAggregates:
    """Escalation counts of the athletes of `team` (None: every athlete)."""
    of_team = _of_team(team)
    open_rows = await session.execute(
        select(Escalation.urgency, Escalation.status, func.count(Escalation.id))
        .where(Escalation.status != EscalationStatus.closed, *of_team)
        .group_by(Escalation.urgency, Escalation.status)
    )
    by_urgency: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for urgency, status, count in open_rows:
        by_urgency[urgency.value] = by_urgency.get(urgency.value, 0) + count
        by_status[status.value] = by_status.get(status.value, 0) + count
    responses = await session.execute(
        select(Escalation.first_response_at, Escalation.created_at).where(
            Escalation.first_response_at.is_not(None),
            Escalation.first_response_at >= now - RESPONSE_WINDOW,
            *of_team,
        )
    )
    delays = [
        (first - created).total_seconds() for first, created in responses if first is not None
    ]
    breaches = int(
        await session.scalar(
            select(func.count(Escalation.id)).where(
                Escalation.sla_breached_at >= start_of_week(now),
                Escalation.sla_breached_at <= now,
                *of_team,
            )
        )
        or 0
    )
    enough = len(delays) >= SMALLEST_SHOWN
    return TeamAggregates(
        team=team,
        open_total=withheld(sum(by_status.values())),
        by_urgency={name: withheld(count) for name, count in by_urgency.items()},
        by_status={name: withheld(count) for name, count in by_status.items()},
        median_first_response=timedelta(seconds=statistics.median(delays)) if enough else None,
        responses_counted=withheld(len(delays)),
        breaches_this_week=withheld(breaches),
    )
