"""Availability windows across time zones (DST included), the coach chosen by language,
sport and load, capacity, the critical fallback, and manual claim/reassign."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.factories import TEST_CONTEXT, create_user
from wellcoach.access import Subject
from wellcoach.config import EscalationSettings
from wellcoach.escalation.assignment import auto_assign, choose, claim, reassign
from wellcoach.escalation.cases import triage_escalation
from wellcoach.escalation.coaches import (
    add_coach,
    checked_availability,
    is_available,
    parse_availability,
)
from wellcoach.escalation.errors import (
    CoachAtCapacity,
    IllegalTransition,
    InvalidAvailability,
    NotACoach,
)
from wellcoach.escalation.service import open_escalation
from wellcoach.models import Coach, Escalation
from wellcoach.models.enums import EscalationReason, EscalationStatus, Role, Urgency
from wellcoach.platform import Platform

MONDAY_0800_UTC = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # before US DST (EST, UTC-5)
WEEK = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
ADMIN = Subject(user_id=None, role=Role.admin)


def coach(
    name: str,
    *,
    tz: str = "UTC",
    languages: tuple[str, ...] = ("en",),
    sports: tuple[str, ...] = (),
    capacity: int = 5,
    windows: dict | None = None,
    switched_on: bool = True,
) -> Coach:
    return Coach(
        id=uuid.uuid4(),
        display_name=name,
        timezone=tz,
        languages=list(languages),
        sports=list(sports),
        max_open_cases=capacity,
        availability=WEEK if windows is None else windows,
        available=switched_on,
    )


def test_a_new_york_coach_is_off_at_eight_utc_and_on_at_fourteen() -> None:
    ny = coach("NY", tz="America/New_York")
    assert not is_available(ny, MONDAY_0800_UTC)  # 03:00 in New York
    assert is_available(ny, MONDAY_0800_UTC.replace(hour=14))  # 09:00 EST
    assert not is_available(ny, MONDAY_0800_UTC.replace(hour=22))  # 17:00: the end is out
    assert is_available(ny, MONDAY_0800_UTC.replace(hour=21, minute=59))


def test_windows_follow_daylight_saving_time() -> None:
    ny = coach("NY", tz="America/New_York")
    # 13:00 UTC is 08:00 EST before 8 March 2026, 09:00 EDT after it
    assert not is_available(ny, datetime(2026, 3, 2, 13, 0, tzinfo=UTC))
    assert is_available(ny, datetime(2026, 3, 9, 13, 0, tzinfo=UTC))
    rome = coach("Rome", tz="Europe/Rome")
    assert is_available(rome, MONDAY_0800_UTC)  # 09:00 CET
    # Saturday in Rome while it is still Friday evening nowhere matters: no weekend windows
    assert not is_available(rome, datetime(2026, 3, 7, 10, 0, tzinfo=UTC))


def test_the_local_weekday_counts_not_the_utc_one() -> None:
    tokyo = coach("Tokyo", tz="Asia/Tokyo", windows={"mon": [["00:00", "12:00"]]})
    # Sunday 20:00 UTC is Monday 05:00 in Tokyo
    assert is_available(tokyo, datetime(2026, 3, 1, 20, 0, tzinfo=UTC))
    assert not is_available(tokyo, datetime(2026, 3, 2, 20, 0, tzinfo=UTC))


def test_switched_off_or_without_windows_is_never_available() -> None:
    assert not is_available(coach("off", switched_on=False), MONDAY_0800_UTC.replace(hour=10))
    assert not is_available(coach("none", windows={}), MONDAY_0800_UTC.replace(hour=10))
    with pytest.raises(ValueError):
        is_available(coach("x"), datetime(2026, 3, 2, 10, 0))


def test_availability_parsing_and_validation() -> None:
    assert parse_availability("tue=14:00-18:00, mon=09:00-17:00,tue=09:00-12:00") == {
        "mon": [["09:00", "17:00"]],
        "tue": [["09:00", "12:00"], ["14:00", "18:00"]],
    }
    assert parse_availability("") == {}
    assert parse_availability("sun=20:00-24:00") == {"sun": [["20:00", "24:00"]]}
    for bad in ("mon=9-17", "funday=09:00-10:00", "mon=17:00-09:00", "mon09:00-17:00",
                "mon=09:00-12:00,mon=11:00-13:00", "mon=25:00-26:00"):  # fmt: skip
        with pytest.raises(InvalidAvailability):
            parse_availability(bad)
    with pytest.raises(InvalidAvailability):
        checked_availability({"mon": [["09:00"]]})


AT_TEN_UTC = MONDAY_0800_UTC.replace(hour=10)


def pick(candidates, *, sport="football", language="it", at=AT_TEN_UTC, urgency=Urgency.high):
    return choose(candidates, sport=sport, language=language, at=at, urgency=urgency)


def test_language_and_sport_first_then_language_then_sport_then_anyone() -> None:
    both = coach("both", languages=("it",), sports=("football",))
    language = coach("language", languages=("it",))
    sport = coach("sport", sports=("football",))
    anyone = coach("anyone")
    assert pick([(anyone, 0), (sport, 0), (language, 0), (both, 3)]) is both
    assert pick([(anyone, 0), (sport, 0), (language, 3)]) is language
    assert pick([(anyone, 0), (sport, 3)]) is sport
    assert pick([(anyone, 4)]) is anyone
    assert pick([(anyone, 0)], sport=None, language=None) is anyone


def test_least_load_wins_inside_a_group_with_a_stable_tie_break() -> None:
    busy = coach("a busy", languages=("it",))
    idle = coach("b idle", languages=("it",))
    assert pick([(busy, 3), (idle, 1)]) is idle
    twin = coach("a twin", languages=("it",))
    assert pick([(idle, 1), (twin, 1)]) is twin  # same load: by name


def test_a_coach_at_capacity_or_off_duty_is_skipped() -> None:
    full = coach("full", languages=("it",), sports=("football",), capacity=2)
    ny = coach("ny", tz="America/New_York", languages=("it",), sports=("football",))
    fallback = coach("fallback")
    assert pick([(full, 2), (ny, 0), (fallback, 4)]) is fallback
    assert pick([(full, 2), (ny, 0)]) is None  # nobody available: stays in the queue


def test_a_critical_case_goes_off_hours_when_nobody_is_on_but_never_above_capacity() -> None:
    full = coach("full", tz="America/New_York", capacity=1)
    night = coach("night", tz="America/New_York", languages=("it",))
    off = coach("off", switched_on=False)
    assert pick([(full, 0), (night, 0)], at=MONDAY_0800_UTC, urgency=Urgency.high) is None
    assert pick([(full, 0), (night, 0)], at=MONDAY_0800_UTC, urgency=Urgency.critical) is night
    assert pick([(full, 1), (off, 0)], at=MONDAY_0800_UTC, urgency=Urgency.critical) is None
    on_duty = coach("on duty")  # UTC office hours: someone is on, so no fallback
    assert pick([(night, 0), (on_duty, 3)], urgency=Urgency.critical) is on_duty


async def _registered(
    session: AsyncSession, platform: Platform, *, capacity: int = 2, **fields
) -> Coach:
    user = await create_user(session, platform, role=Role.coach)
    return await add_coach(
        session, user.email, capacity=capacity, availability=WEEK, request=TEST_CONTEXT, **fields
    )


async def _triaged(
    session: AsyncSession, platform: Platform, urgency=Urgency.high, sport: str = "football"
) -> Escalation:
    athlete = await create_user(session, platform, sport=sport)
    escalation = await open_escalation(
        session,
        platform.vault,
        user_id=athlete.id,
        reason=EscalationReason.needs_human_support,
        urgency=urgency,
        message="help",
        context={},
        request=TEST_CONTEXT,
        policy=EscalationSettings(),
        now=MONDAY_0800_UTC,
    )
    return await triage_escalation(session, platform.vault, escalation, now=MONDAY_0800_UTC)


async def test_registering_needs_the_coach_role_once(
    db_session: AsyncSession, platform: Platform
) -> None:
    athlete = await create_user(db_session, platform)
    with pytest.raises(NotACoach):
        await add_coach(db_session, athlete.email)
    user = await create_user(db_session, platform, role=Role.coach)
    await add_coach(db_session, user.email, timezone="Europe/Rome")
    with pytest.raises(InvalidAvailability):
        await add_coach(
            db_session,
            (await create_user(db_session, platform, role=Role.coach)).email,
            timezone="Mars/Olympus",
        )


async def test_auto_assign_in_the_database_counts_held_cases(
    db_session: AsyncSession, platform: Platform
) -> None:
    """Coaches of other tests may be committed: only ours are compared, by keeping the
    choice among coaches who know a sport nobody else uses."""
    sport = f"sport-{uuid.uuid4().hex[:6]}"
    first = await _registered(db_session, platform, sports=[sport], languages=["en"])
    second = await _registered(db_session, platform, sports=[sport], languages=["en"])
    chosen = []
    for _ in range(2):
        escalation = await _triaged(db_session, platform, sport=sport)
        taken = await auto_assign(
            db_session, platform.vault, escalation, now=AT_TEN_UTC, request=TEST_CONTEXT
        )
        assert escalation.status == EscalationStatus.assigned
        assert taken is not None and escalation.assigned_coach_id == taken.id
        chosen.append(taken.id)
    # least load: the second case goes to the other coach
    assert set(chosen) == {first.id, second.id}


async def test_claim_respects_capacity_and_reassign_needs_an_assigned_case(
    db_session: AsyncSession, platform: Platform
) -> None:
    small = await _registered(db_session, platform, capacity=1)
    other = await _registered(db_session, platform, capacity=1)
    one = await _triaged(db_session, platform)
    two = await _triaged(db_session, platform)
    with pytest.raises(IllegalTransition):
        await reassign(db_session, platform.vault, one, other, actor=ADMIN)
    await claim(db_session, platform.vault, one, small, actor=ADMIN, now=AT_TEN_UTC)
    with pytest.raises(CoachAtCapacity) as full:
        await claim(db_session, platform.vault, two, small, actor=ADMIN, now=AT_TEN_UTC)
    assert full.value.code == "coach_at_capacity"
    assert two.status == EscalationStatus.triaged
    with pytest.raises(IllegalTransition):
        await claim(db_session, platform.vault, one, other, actor=ADMIN)  # already assigned
    await reassign(
        db_session, platform.vault, one, other, actor=ADMIN, now=AT_TEN_UTC + timedelta(minutes=5)
    )
    assert one.assigned_coach_id == other.id
    # the freed slot can take the second case now
    await claim(db_session, platform.vault, two, small, actor=ADMIN, now=AT_TEN_UTC)
    assert two.assigned_coach_id == small.id
