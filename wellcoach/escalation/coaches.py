"""The coaches registry: who handles escalations, in which sports and languages, how many
cases at once, and when.

Weekly availability is a set of windows per weekday in the coach's own timezone
(`{"mon": [["09:00", "17:00"]], ...}`), so "Monday 9 to 5 in New York" stays 9 to 5
across daylight-saving changes: `is_available` converts the instant to the coach's
local time with zoneinfo before it looks at the windows. A window ends before its
end minute ("09:00"-"17:00" includes 16:59, not 17:00); "24:00" ends at midnight. A
window never crosses midnight: split it into two days. No windows at all means never
available for automatic assignment (a manual claim still works).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.accounts import repository as accounts
from wellcoach.audit import RequestContext, record
from wellcoach.audit.service import SYSTEM
from wellcoach.errors import InvalidInput, NotFound
from wellcoach.escalation import repository
from wellcoach.escalation.errors import CoachExists, InvalidAvailability, NotACoach
from wellcoach.models import Coach
from wellcoach.models.enums import Role

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")

Availability = dict[str, list[list[str]]]


def checked_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidAvailability(f"Unknown timezone {name!r} (use an IANA name).") from exc
    return name


def checked_availability(value: Mapping[str, Sequence[Sequence[str]]]) -> Availability:
    """Validated windows, each day's sorted; refuses unknown days, malformed times, empty
    or reversed windows and overlaps."""
    result: Availability = {}
    for day, windows in value.items():
        if day not in DAYS:
            raise InvalidAvailability(f"Unknown day {day!r}; use one of {', '.join(DAYS)}.")
        checked: list[list[str]] = []
        for window in windows:
            if len(window) != 2 or not all(_TIME.match(str(t)) for t in window):
                raise InvalidAvailability(f"{day}: {window!r} is not a window like 09:00-17:00.")
            start, end = str(window[0]), str(window[1])
            if start >= end:
                raise InvalidAvailability(f"{day}: {start}-{end} ends before it starts.")
            checked.append([start, end])
        checked.sort()
        for before, after in zip(checked, checked[1:], strict=False):
            if after[0] < before[1]:
                raise InvalidAvailability(f"{day}: windows {before} and {after} overlap.")
        if checked:
            result[day] = checked
    return result


def parse_availability(spec: str) -> Availability:
    """`mon=09:00-17:00,tue=09:00-12:00,tue=14:00-18:00` (a day may repeat); an empty
    string clears the availability."""
    windows: dict[str, list[list[str]]] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        day, sep, span = item.partition("=")
        start, dash, end = span.partition("-")
        if not sep or not dash:
            raise InvalidAvailability(f"{item!r} is not like mon=09:00-17:00.")
        windows.setdefault(day.strip().lower(), []).append([start.strip(), end.strip()])
    return checked_availability(windows)


def is_available(coach: Coach, at: datetime) -> bool:
    """Whether `coach` works at the instant `at` (timezone-aware): switched on, and
    inside one of their windows in their own timezone."""
    if at.tzinfo is None:
        raise ValueError("is_available needs a timezone-aware instant")
    if not coach.available:
        return False
    local = at.astimezone(ZoneInfo(coach.timezone))
    minute = local.strftime("%H:%M")
    windows = (coach.availability or {}).get(DAYS[local.weekday()], [])
    return any(start <= minute < end for start, end in windows)


@dataclass(frozen=True)
class CoachRow:
    coach: Coach
    open_cases: int

    def as_json(self) -> dict[str, Any]:
        coach = self.coach
        return {
            "id": str(coach.id),
            "user_id": str(coach.user_id),
            "display_name": coach.display_name,
            "sports": list(coach.sports or []),
            "languages": list(coach.languages or []),
            "timezone": coach.timezone,
            "capacity": coach.max_open_cases,
            "open_cases": self.open_cases,
            "switched_on": coach.available,
            "availability": coach.availability or {},
        }


async def add_coach(
    session: AsyncSession,
    user_ref: str,
    *,
    sports: Sequence[str] = (),
    languages: Sequence[str] = ("en",),
    timezone: str = "UTC",
    capacity: int = 10,
    availability: Mapping[str, Sequence[Sequence[str]]] | None = None,
    request: RequestContext = SYSTEM,
    actor_id: uuid.UUID | None = None,
) -> Coach:
    """Register the account `user_ref` (email or id), which must have the coach role."""
    user = await accounts.get_by_email_or_id(session, user_ref)
    if user is None:
        raise NotFound(f"No user {user_ref!r}.")
    if user.role != Role.coach:
        raise NotACoach(
            f"{user_ref} has the role {user.role.value}; give it the coach role first"
            f" (wellcoach users set-role {user_ref} coach)."
        )
    if await repository.coach_by_user(session, user.id) is not None:
        raise CoachExists(f"{user_ref} is already a coach.")
    if capacity < 1:
        raise InvalidInput("A coach's capacity is at least one open case.")
    coach = Coach(
        user_id=user.id,
        display_name=(user.name or user.email)[:100],
        sports=sorted({s.strip().lower() for s in sports if s.strip()}),
        languages=sorted({lang.strip().lower() for lang in languages if lang.strip()}),
        timezone=checked_timezone(timezone),
        max_open_cases=capacity,
        available=True,
        availability=checked_availability(availability or {}),
    )
    repository.add_coach(session, coach)
    await session.flush()
    await record(
        session,
        "coach.add",
        context=request,
        user_id=user.id,
        actor_id=actor_id,
        resource_type="coach",
        resource_id=coach.id,
        details={"sports": coach.sports, "languages": coach.languages, "capacity": capacity},
    )
    return coach


async def coach_of(session: AsyncSession, user_ref: str) -> Coach:
    """The coach registered for the account `user_ref` (email or user id), or whose
    coach id it is."""
    user = await accounts.get_by_email_or_id(session, user_ref)
    coach = await repository.coach_by_user(session, user.id) if user is not None else None
    if coach is None:
        try:
            coach = await repository.coach_by_id(session, uuid.UUID(user_ref))
        except ValueError:
            coach = None
    if coach is None:
        raise NotFound(f"{user_ref} is not a registered coach.")
    return coach


async def set_availability(
    session: AsyncSession,
    coach: Coach,
    availability: Mapping[str, Sequence[Sequence[str]]],
    *,
    request: RequestContext = SYSTEM,
    actor_id: uuid.UUID | None = None,
) -> Coach:
    coach.availability = checked_availability(availability)
    await session.flush()
    await record(
        session,
        "coach.availability",
        context=request,
        user_id=coach.user_id,
        actor_id=actor_id,
        resource_type="coach",
        resource_id=coach.id,
        details={"days": sorted(coach.availability)},
    )
    return coach


async def list_coaches(session: AsyncSession) -> list[CoachRow]:
    return [CoachRow(c, load) for c, load in await repository.coaches_with_load(session)]
