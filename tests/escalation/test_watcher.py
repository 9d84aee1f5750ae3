"""The SLA watcher with a clock the test moves: a crisis case is triaged, assigned and its
coach paged; near the deadline the coach is warned once; past it the breach is recorded
once, the administrators are told and the case moves to a backup coach. Webhook events
and emails carry no personal text."""

from __future__ import annotations

import uuid
from datetime import timedelta

from pydantic import SecretStr
from sqlalchemy import select

from tests.support.factories import create_user
from wellcoach.audit import RequestContext
from wellcoach.config import WebhookEndpointSettings, WebhookSettings
from wellcoach.escalation.coaches import add_coach
from wellcoach.escalation.service import open_escalation
from wellcoach.escalation.watcher import watch
from wellcoach.models import EmailOutbox, Escalation
from wellcoach.models.enums import EscalationReason, EscalationStatus, Role, Urgency
from wellcoach.models.webhooks import WebhookDelivery

ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
HOOK = "https://hooks.example.org/wellcoach"
TEXT = "I cannot keep going like this"


async def _mails(db_session, to: str, about: uuid.UUID) -> list[EmailOutbox]:
    """The watcher's emails to `to` about one case (other tests' committed cases may be
    watched too: the watcher works every open case)."""
    rows = await db_session.scalars(
        select(EmailOutbox)
        .where(EmailOutbox.to_address == to, EmailOutbox.template == "escalation_update")
        .order_by(EmailOutbox.created_at)
    )
    return [row for row in rows if str(about) in row.body]


async def _events(db_session, escalation_id: uuid.UUID) -> list[str]:
    rows = await db_session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_url == HOOK)
    )
    return [
        row.event_type for row in rows if row.payload["data"]["escalation_id"] == str(escalation_id)
    ]


async def test_the_watcher_moves_a_crisis_to_a_human_and_keeps_the_sla(
    db_session, platform, settings
):
    configured = settings.model_copy(
        update={
            "webhooks": WebhookSettings(
                endpoints=[
                    WebhookEndpointSettings(
                        url=HOOK, secret=SecretStr("s" * 32), events=["escalation.*"]
                    )
                ]
            )
        }
    )
    sport = f"sport-{uuid.uuid4().hex[:8]}"
    first = await create_user(db_session, platform, role=Role.coach, name="First Coach")
    backup = await create_user(db_session, platform, role=Role.coach, name="Backup Coach")
    admin = await create_user(db_session, platform, role=Role.admin)
    await add_coach(db_session, first.email, sports=[sport], languages=["en"], availability=ALWAYS)
    await add_coach(db_session, backup.email, sports=[sport], languages=["en"], availability=ALWAYS)
    athlete = await create_user(db_session, platform, sport=sport)
    case = await open_escalation(
        db_session,
        platform.vault,
        user_id=athlete.id,
        reason=EscalationReason.emergency_support,
        urgency=Urgency.critical,
        message=TEXT,
        context={},
        request=RequestContext(source="test"),
        source="auto_crisis",
    )
    opened = case.created_at

    report = await watch(db_session, platform.vault, configured, now=opened + timedelta(seconds=5))
    assert (case.user_id, case.id, "assigned") in report.changes
    assert case.status == EscalationStatus.assigned and case.priority >= 80
    holder = first if case.assigned_coach_id == (await _coach_id(db_session, first.id)) else backup
    (paged,) = await _mails(db_session, holder.email, case.id)
    assert "needs you now" in paged.subject and TEXT not in paged.body
    assert athlete.email not in paged.body

    # 45 minutes in: three quarters of the hour used, one warning only
    for minutes in (46, 50):
        await watch(db_session, platform.vault, configured, now=opened + timedelta(minutes=minutes))
    assert case.sla_warned_at == opened + timedelta(minutes=46)
    assert [m.subject for m in await _mails(db_session, holder.email, case.id)][1:] == [
        "wellcoach: a critical escalation is close to its response deadline"
    ]

    # past the hour: breached once, administrators told, the backup coach takes it
    late = opened + timedelta(minutes=61)
    await watch(db_session, platform.vault, configured, now=late)
    await watch(db_session, platform.vault, configured, now=late + timedelta(minutes=1))
    assert case.sla_breached_at == case.sla_due_at
    other = backup if holder is first else first
    assert case.assigned_coach_id == await _coach_id(db_session, other.id)
    assert [m.subject for m in await _mails(db_session, admin.email, case.id)] == [
        "wellcoach: a critical escalation missed its response deadline"
    ]
    assert "backup coach" in (await _mails(db_session, other.email, case.id))[-1].subject

    events = await _events(db_session, case.id)
    assert events == [
        "escalation.triaged",
        "escalation.assigned",
        "escalation.sla_warning",
        "escalation.sla_breached",
        "escalation.reassigned",
    ]
    stored = await db_session.scalar(select(Escalation).where(Escalation.id == case.id))
    assert stored is not None and stored.status == EscalationStatus.assigned


async def test_a_case_answered_in_time_is_left_alone(db_session, platform, settings):
    athlete = await create_user(db_session, platform)
    case = await open_escalation(
        db_session,
        platform.vault,
        user_id=athlete.id,
        reason=EscalationReason.general_inquiry,
        urgency=Urgency.low,
        message="a question",
        context={},
        request=RequestContext(source="test"),
    )
    case.first_response_at = case.created_at + timedelta(hours=1)
    case.status = EscalationStatus.responded
    await db_session.flush()
    await watch(db_session, platform.vault, settings, now=case.created_at + timedelta(days=5))
    assert case.sla_breached_at is None and case.sla_warned_at is None


async def _coach_id(db_session, user_id: uuid.UUID) -> uuid.UUID:
    from wellcoach.models import Coach

    found = await db_session.scalar(select(Coach.id).where(Coach.user_id == user_id))
    assert found is not None
    return found
