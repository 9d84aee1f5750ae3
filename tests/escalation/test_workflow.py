"""The escalation state machine: every legal path, every illegal move refused, events
and audit entries per move, SLA deadlines from config and breaches on a test clock."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.factories import TEST_CONTEXT, create_user
from wellcoach.access import Subject
from wellcoach.config import EscalationSettings
from wellcoach.escalation.cases import triage_escalation
from wellcoach.escalation.errors import IllegalTransition
from wellcoach.escalation.service import near_deadline, open_escalation
from wellcoach.escalation.workflow import TRANSITIONS, record_breach, transition
from wellcoach.models import AuditLog, Coach, Escalation, EscalationEvent, MoodEntry, User
from wellcoach.models.enums import EscalationReason, EscalationStatus, Role, Urgency
from wellcoach.platform import Platform

S = EscalationStatus
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ADMIN = Subject(user_id=None, role=Role.admin)


async def opened(
    session: AsyncSession,
    platform: Platform,
    user: User,
    *,
    urgency: Urgency = Urgency.high,
    policy: EscalationSettings | None = None,
    now: datetime = T0,
) -> Escalation:
    return await open_escalation(
        session,
        platform.vault,
        user_id=user.id,
        reason=EscalationReason.needs_human_support,
        urgency=urgency,
        message="please call me",
        context={},
        request=TEST_CONTEXT,
        policy=policy or EscalationSettings(),
        now=now,
    )


async def coach_row(session: AsyncSession, platform: Platform) -> tuple[User, Coach]:
    user = await create_user(session, platform, role=Role.coach)
    coach = Coach(user_id=user.id, display_name="C", languages=["en"], sports=[])
    session.add(coach)
    await session.flush()
    return user, coach


def test_the_table_is_the_documented_one() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == {
        (S.submitted, S.triaged),
        (S.triaged, S.assigned),
        (S.assigned, S.in_progress),
        (S.in_progress, S.responded),
        (S.responded, S.closed),
        (S.assigned, S.assigned),
        (S.responded, S.in_progress),
        (S.submitted, S.closed),
        (S.triaged, S.closed),
        (S.assigned, S.closed),
        (S.in_progress, S.closed),
    }


ILLEGAL = [(a, b) for a, b in itertools.product(S, S) if b not in TRANSITIONS[a]]


@pytest.mark.parametrize(("current", "to"), ILLEGAL)
async def test_illegal_moves_are_refused_and_change_nothing(
    db_session: AsyncSession, platform: Platform, current: S, to: S
) -> None:
    escalation = Escalation(
        id=uuid.uuid4(), user_id=uuid.uuid4(), status=current, sla_due_at=T0, created_at=T0
    )
    with pytest.raises(IllegalTransition) as refused:
        await transition(
            db_session, platform.vault, escalation, to, actor=ADMIN, coach_id=uuid.uuid4()
        )
    assert refused.value.code == "illegal_transition"
    assert refused.value.kind == "conflict"
    assert escalation.status == current


async def test_the_whole_path_with_a_second_round_sets_times_events_and_audit(
    db_session: AsyncSession, platform: Platform
) -> None:
    user = await create_user(db_session, platform)
    coach_user, coach = await coach_row(db_session, platform)
    coach_actor = Subject(user_id=coach_user.id, role=Role.coach)
    user_actor = Subject(user_id=user.id, role=Role.athlete)
    escalation = await opened(db_session, platform, user)
    assert escalation.sla_due_at == T0 + timedelta(hours=4)
    vault = platform.vault

    steps = [
        (S.triaged, None, T0 + timedelta(minutes=1)),
        (S.assigned, None, T0 + timedelta(minutes=2)),
        (S.in_progress, coach_actor, T0 + timedelta(minutes=3)),
        (S.responded, coach_actor, T0 + timedelta(minutes=30)),
        (S.in_progress, user_actor, T0 + timedelta(minutes=40)),
        (S.responded, coach_actor, T0 + timedelta(minutes=50)),
        (S.closed, coach_actor, T0 + timedelta(hours=1)),
    ]
    for to, actor, at in steps:
        await transition(
            db_session,
            vault,
            escalation,
            to,
            actor=actor,
            now=at,
            coach_id=coach.id if to == S.assigned else None,
            note="called back" if to == S.responded else None,
            request=TEST_CONTEXT,
        )
        assert escalation.status == to
    assert escalation.triaged_at == T0 + timedelta(minutes=1)
    assert escalation.assigned_coach_id == coach.id
    assert escalation.assigned_at == T0 + timedelta(minutes=2)
    assert escalation.first_response_at == T0 + timedelta(minutes=30)  # the first one only
    assert escalation.closed_at == T0 + timedelta(hours=1)
    assert escalation.sla_breached_at is None

    events = list(
        await db_session.scalars(
            select(EscalationEvent)
            .where(EscalationEvent.escalation_id == escalation.id)
            .order_by(EscalationEvent.created_at)
        )
    )
    assert [(e.from_status, e.to_status) for e in events] == [
        ("submitted", "triaged"),
        ("triaged", "assigned"),
        ("assigned", "in_progress"),
        ("in_progress", "responded"),
        ("responded", "in_progress"),
        ("in_progress", "responded"),
        ("responded", "closed"),
    ]
    assert [e.actor_id for e in events][2:4] == [coach_user.id, coach_user.id]
    assert events[4].actor_id == user.id
    assert b"called back" not in events[3].note_encrypted
    note = await vault.open_json(
        db_session, user.id, events[3].note_encrypted, purpose="escalation_event"
    )
    assert note == {"kind": "note", "text": "called back"}

    actions = list(
        await db_session.scalars(
            select(AuditLog.action)
            .where(AuditLog.resource_id == str(escalation.id))
            .order_by(AuditLog.created_at, AuditLog.id)
        )
    )
    assert actions.count("escalation.responded") == 2
    assert {"escalation.triaged", "escalation.assigned", "escalation.closed"} <= set(actions)


async def test_reassignment_moves_the_case_and_refuses_the_same_coach(
    db_session: AsyncSession, platform: Platform
) -> None:
    user = await create_user(db_session, platform)
    _, first = await coach_row(db_session, platform)
    _, second = await coach_row(db_session, platform)
    escalation = await opened(db_session, platform, user)
    vault = platform.vault
    await transition(db_session, vault, escalation, S.triaged, actor=None)
    await transition(db_session, vault, escalation, S.assigned, actor=None, coach_id=first.id)
    await transition(db_session, vault, escalation, S.assigned, actor=ADMIN, coach_id=second.id)
    assert escalation.assigned_coach_id == second.id
    with pytest.raises(IllegalTransition):
        await transition(db_session, vault, escalation, S.assigned, actor=ADMIN, coach_id=second.id)


async def test_only_a_coach_or_an_admin_closes(
    db_session: AsyncSession, platform: Platform
) -> None:
    user = await create_user(db_session, platform)
    escalation = await opened(db_session, platform, user)
    for actor in (None, Subject(user_id=user.id, role=Role.athlete)):
        with pytest.raises(IllegalTransition):
            await transition(db_session, platform.vault, escalation, S.closed, actor=actor)
    await transition(db_session, platform.vault, escalation, S.closed, actor=ADMIN)
    assert escalation.closed_at is not None


async def _to_in_progress(
    session: AsyncSession, platform: Platform, escalation: Escalation
) -> None:
    _, coach = await coach_row(session, platform)
    for to in (S.triaged, S.assigned, S.in_progress):
        await transition(
            session,
            platform.vault,
            escalation,
            to,
            actor=None,
            now=T0 + timedelta(minutes=1),
            coach_id=coach.id,
        )


async def test_a_first_response_after_the_deadline_records_the_breach(
    db_session: AsyncSession, platform: Platform
) -> None:
    user = await create_user(db_session, platform)
    late = await opened(db_session, platform, user, urgency=Urgency.high)
    await _to_in_progress(db_session, platform, late)
    await transition(
        db_session, platform.vault, late, S.responded, actor=ADMIN, now=T0 + timedelta(hours=5)
    )
    assert late.sla_breached_at == late.sla_due_at == T0 + timedelta(hours=4)
    breach = await db_session.scalar(
        select(AuditLog).where(
            AuditLog.resource_id == str(late.id), AuditLog.action == "escalation.responded"
        )
    )
    assert breach is not None and breach.details["sla_breached"] is True

    on_time = await opened(db_session, platform, user, urgency=Urgency.high)
    await _to_in_progress(db_session, platform, on_time)
    await transition(
        db_session, platform.vault, on_time, S.responded, actor=ADMIN, now=T0 + timedelta(hours=4)
    )
    assert on_time.sla_breached_at is None  # exactly at the deadline is in time
    # later moves never turn an answered case into a breached one
    await transition(
        db_session, platform.vault, on_time, S.closed, actor=ADMIN, now=T0 + timedelta(days=9)
    )
    assert on_time.sla_breached_at is None


async def test_a_watcher_marks_an_unanswered_case_once(
    db_session: AsyncSession, platform: Platform
) -> None:
    user = await create_user(db_session, platform)
    escalation = await opened(db_session, platform, user, urgency=Urgency.critical)
    assert escalation.response_time_sla == "1h"
    policy = EscalationSettings()
    assert not near_deadline(policy, escalation, T0 + timedelta(minutes=44))
    assert near_deadline(policy, escalation, T0 + timedelta(minutes=45))
    assert not await record_breach(db_session, escalation, now=T0 + timedelta(minutes=59))
    assert await record_breach(db_session, escalation, now=T0 + timedelta(minutes=61))
    assert not await record_breach(db_session, escalation, now=T0 + timedelta(hours=3))
    assert escalation.sla_breached_at == T0 + timedelta(hours=1)
    marked = await db_session.scalar(
        select(AuditLog).where(
            AuditLog.resource_id == str(escalation.id),
            AuditLog.action == "escalation.sla_breached",
        )
    )
    assert marked is not None


async def test_the_sla_comes_from_config_and_keeps_the_defaults_left_out(
    db_session: AsyncSession, platform: Platform
) -> None:
    policy = EscalationSettings.model_validate({"sla": {"high": {"hours": 2}}})
    assert policy.sla["critical"].page_immediately is True
    assert policy.sla["low"].hours == 72
    user = await create_user(db_session, platform)
    high = await opened(db_session, platform, user, urgency=Urgency.high, policy=policy)
    assert (high.response_time_sla, high.sla_due_at) == ("2h", T0 + timedelta(hours=2))
    medium = await opened(db_session, platform, user, urgency=Urgency.medium, policy=policy)
    assert (medium.response_time_sla, medium.sla_due_at) == ("24h", T0 + timedelta(hours=24))
    with pytest.raises(ValueError):
        EscalationSettings.model_validate({"sla": {"urgentish": {"hours": 1}}})


async def test_triage_stores_priority_and_reasons_from_recent_moods(
    db_session: AsyncSession, platform: Platform
) -> None:
    user = await create_user(db_session, platform)
    for mood, stress in ((2, 9), (3, 7)):
        db_session.add(MoodEntry(user_id=user.id, mood=mood, stress=stress))
    await db_session.flush()
    escalation = await opened(db_session, platform, user, urgency=Urgency.high)
    await triage_escalation(
        db_session, platform.vault, escalation, health_alerts=1, now=T0 + timedelta(minutes=1)
    )
    # 40 high + 10 needs_human_support + 15 low mood + 10 high stress + 5 one alert
    assert escalation.priority == 80
    assert escalation.status == S.triaged
    assert escalation.triaged_at == T0 + timedelta(minutes=1)
    assert len(escalation.triage["reasons"]) == 5
