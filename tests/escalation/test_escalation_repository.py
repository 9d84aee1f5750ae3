"""Who reads which escalation, and how opening one stays idempotent per chat message."""

from __future__ import annotations

import uuid
from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.factories import TEST_CONTEXT, create_user
from wellcoach.access import Subject
from wellcoach.escalation import repository
from wellcoach.escalation.repository import NewEscalation, escalations_readable_by
from wellcoach.escalation.service import open_escalation
from wellcoach.models import AuditLog, Coach, Escalation, User
from wellcoach.models.enums import EscalationReason, EscalationStatus, Role, Urgency
from wellcoach.platform import Platform


def subject(user: User) -> Subject:
    return Subject(user_id=user.id, role=user.role)


async def open_for(
    session: AsyncSession, platform: Platform, user: User, message_id: uuid.UUID | None = None
) -> Escalation:
    return await open_escalation(
        session,
        platform.vault,
        user_id=user.id,
        reason=EscalationReason.needs_human_support,
        urgency=Urgency.medium,
        message="I would like to talk to someone",
        context={"source": "test"},
        request=TEST_CONTEXT,
        message_id=message_id,
    )


async def make_coach(session: AsyncSession, platform: Platform) -> tuple[User, Coach]:
    user = await create_user(session, platform, role=Role.coach)
    coach = Coach(user_id=user.id, display_name="Coach", languages=["en"], sports=[])
    session.add(coach)
    await session.flush()
    return user, coach


async def readable(session: AsyncSession, reader: Subject) -> set[uuid.UUID]:
    return {escalation.id for escalation in await session.scalars(escalations_readable_by(reader))}


async def test_owners_read_theirs_coaches_their_assigned_cases_admins_all(
    db_session: AsyncSession, platform: Platform
) -> None:
    alice = await create_user(db_session, platform, name="Alice")
    bob = await create_user(db_session, platform, name="Bob")
    admin = await create_user(db_session, platform, role=Role.admin)
    manager = await create_user(db_session, platform, role=Role.team_manager)
    coach_user, coach = await make_coach(db_session, platform)
    other_coach_user, other_coach = await make_coach(db_session, platform)

    alice_open = await open_for(db_session, platform, alice)
    alice_closed = await open_for(db_session, platform, alice)
    bob_unassigned = await open_for(db_session, platform, bob)
    bob_elsewhere = await open_for(db_session, platform, bob)
    alice_open.assigned_coach_id = coach.id
    alice_closed.assigned_coach_id = coach.id
    alice_closed.status = EscalationStatus.closed
    bob_elsewhere.assigned_coach_id = other_coach.id
    await db_session.flush()
    ours = {alice_open.id, alice_closed.id, bob_unassigned.id, bob_elsewhere.id}

    assert await readable(db_session, subject(alice)) == {alice_open.id, alice_closed.id}
    assert await readable(db_session, subject(bob)) == {bob_unassigned.id, bob_elsewhere.id}
    # a closed case stays readable by the coach it was assigned to; a case nobody holds
    # is open to every registered coach, who may claim it
    assert await readable(db_session, subject(coach_user)) & ours == {
        alice_open.id,
        alice_closed.id,
        bob_unassigned.id,
    }
    assert await readable(db_session, subject(other_coach_user)) & ours == {
        bob_elsewhere.id,
        bob_unassigned.id,
    }
    assert await readable(db_session, subject(manager)) == set()
    assert ours <= await readable(db_session, subject(admin))
    assert await readable(db_session, Subject(user_id=None, role=Role.athlete)) == set()


async def test_a_coach_reads_their_own_escalations_too(
    db_session: AsyncSession, platform: Platform
) -> None:
    coach_user, _ = await make_coach(db_session, platform)
    own = await open_for(db_session, platform, coach_user)
    assert own.id in await readable(db_session, subject(coach_user))


async def test_one_escalation_and_one_audit_entry_per_message(
    db_session: AsyncSession, platform: Platform
) -> None:
    user = await create_user(db_session, platform)
    message_id = uuid.uuid4()
    first = await open_for(db_session, platform, user, message_id)
    again = await open_for(db_session, platform, user, message_id)
    assert again.id == first.id
    assert await repository.by_message(db_session, message_id) is first
    opened = await db_session.scalar(
        select(func.count())
        .select_from(AuditLog)
        .where(AuditLog.user_id == user.id, AuditLog.action == "escalation.open")
    )
    assert opened == 1


async def test_insert_or_get_returns_the_row_that_won_the_race(
    db_session: AsyncSession, platform: Platform
) -> None:
    """A concurrent retry passes the by-message check, then meets ON CONFLICT."""
    user = await create_user(db_session, platform)
    message_id = uuid.uuid4()
    first = await open_for(db_session, platform, user, message_id)
    late = NewEscalation(
        id=uuid.uuid4(),
        user_id=user.id,
        session_id=None,
        reason=EscalationReason.emergency_support,
        urgency=Urgency.critical,
        status=EscalationStatus.submitted,
        source="auto",
        message_id=message_id,
        message_encrypted=b"sealed",
        context_encrypted=b"sealed",
        response_time_sla="1h",
        sla_due_at=first.sla_due_at,
        created_at=first.created_at,
        updated_at=first.updated_at,
    )
    stored = await repository.insert_or_get(db_session, late)
    assert stored.id == first.id
    assert stored.reason == EscalationReason.needs_human_support

    without_message = await repository.insert_or_get(
        db_session, replace(late, id=uuid.uuid4(), message_id=None)
    )
    assert without_message.reason == EscalationReason.emergency_support
    assert without_message.message_id is None
