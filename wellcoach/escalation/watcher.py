"""The SLA watcher (`wellcoach cron`, every 30 s): keeps every case moving toward a human.

For each open case still waiting for its first response, nearest deadline first:
1. a submitted case (a crisis from chat, a request) is triaged;
2. a triaged case is assigned to the best available coach; the coach is emailed
   (a critical case is the page: "needs you now");
3. a case past its deadline is marked breached once; the coach and the administrators
   are emailed, and if another coach is available the case moves to them (the backup);
4. a case that has used `escalation.near_deadline` of its SLA gets one warning email to
   its coach (to the administrators while nobody has it).

Each step also emits a signed webhook event (`escalation.triaged`, `.assigned`,
`.sla_warning`, `.sla_breached`, `.reassigned`): ids and enums only, never text.
Emails name no person and carry no text either: the dashboard shows the case.
Cases are locked with SKIP LOCKED, so two watchers never work one case.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.accounts import repository as users
from wellcoach.audit import RequestContext
from wellcoach.config import Settings
from wellcoach.crypto import Vault
from wellcoach.db.base import utcnow
from wellcoach.escalation import repository
from wellcoach.escalation.assignment import auto_assign, choose, reassign
from wellcoach.escalation.cases import triage_escalation
from wellcoach.escalation.service import near_deadline
from wellcoach.escalation.workflow import record_breach
from wellcoach.models import Escalation
from wellcoach.models.enums import EscalationStatus, Role
from wellcoach.notify.email import queue_email
from wellcoach.notify.webhooks import emit

WATCHER = RequestContext(source="sla_watcher")

WHAT = {
    "assigned": ("has been assigned to you", "ti è stata assegnata"),
    "paged": ("needs you now", "ha bisogno di te adesso"),
    "warning": ("is close to its response deadline", "è vicina alla scadenza della risposta"),
    "breached": ("missed its response deadline", "ha superato la scadenza della risposta"),
    "reassigned": (
        "has been moved to you as the backup coach",
        "ti è stata passata come coach di riserva",
    ),
}


@dataclass
class WatchReport:
    triaged: int = 0
    assigned: int = 0
    warned: int = 0
    breached: int = 0
    reassigned: int = 0
    # (athlete, escalation, new status): the adapter tells the athlete's devices
    changes: list[tuple[uuid.UUID, uuid.UUID, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "triaged": self.triaged,
            "assigned": self.assigned,
            "warned": self.warned,
            "breached": self.breached,
            "reassigned": self.reassigned,
        }


async def watch(
    session: AsyncSession, vault: Vault, settings: Settings, *, now: datetime | None = None
) -> WatchReport:
    now = now or utcnow()
    report = WatchReport()
    for escalation in await repository.awaiting_response(session):
        if escalation.status == EscalationStatus.submitted:
            await triage_escalation(session, vault, escalation, now=now, request=WATCHER)
            report.triaged += 1
            await _event(session, settings, escalation, "triaged")
        if escalation.status == EscalationStatus.triaged:
            coach = await auto_assign(session, vault, escalation, now=now, request=WATCHER)
            if coach is not None:
                report.assigned += 1
                report.changes.append((escalation.user_id, escalation.id, "assigned"))
                await _event(session, settings, escalation, "assigned")
                paged = escalation.urgency.value == "critical"
                await _tell_coach(session, escalation, "paged" if paged else "assigned")
        if await record_breach(session, escalation, now=now, request=WATCHER):
            report.breached += 1
            await _event(session, settings, escalation, "sla_breached")
            await _tell_coach(session, escalation, "breached")
            await _tell_admins(session, escalation, "breached")
            if await _to_backup(session, vault, escalation, now):
                report.reassigned += 1
                await _event(session, settings, escalation, "reassigned")
                await _tell_coach(session, escalation, "reassigned")
        elif escalation.sla_warned_at is None and near_deadline(
            settings.escalation, escalation, now
        ):
            escalation.sla_warned_at = now
            report.warned += 1
            await _event(session, settings, escalation, "sla_warning")
            if escalation.assigned_coach_id is not None:
                await _tell_coach(session, escalation, "warning")
            else:
                await _tell_admins(session, escalation, "warning")
    return report


async def _to_backup(
    session: AsyncSession, vault: Vault, escalation: Escalation, now: datetime
) -> bool:
    """A breached case moves to another available coach, if there is one."""
    if escalation.status != EscalationStatus.assigned:
        return False
    user = await users.get_by_id(session, escalation.user_id)
    others = [
        (coach, load)
        for coach, load in await repository.coaches_with_load(
            session, only_switched_on=True, lock=True
        )
        if coach.id != escalation.assigned_coach_id
    ]
    backup = choose(
        others,
        sport=user.sport if user is not None else None,
        language=(user.preferences or {}).get("language") if user is not None else None,
        at=now,
        urgency=escalation.urgency,
    )
    if backup is None:
        return False
    await reassign(
        session,
        vault,
        escalation,
        backup,
        actor=None,
        now=now,
        note="moved to a backup coach: the response deadline passed",
        request=WATCHER,
    )
    return True


async def _event(
    session: AsyncSession, settings: Settings, escalation: Escalation, kind: str
) -> None:
    await emit(
        session,
        f"escalation.{kind}",
        {
            "escalation_id": escalation.id,
            "user_id": escalation.user_id,
            "status": escalation.status,
            "urgency": escalation.urgency,
            "priority": escalation.priority,
            "assigned_coach_id": escalation.assigned_coach_id,
            "sla_due_at": escalation.sla_due_at,
        },
        settings=settings,
    )


async def _tell_coach(session: AsyncSession, escalation: Escalation, what: str) -> None:
    if escalation.assigned_coach_id is None:
        return
    contact = await repository.coach_contact(session, escalation.assigned_coach_id)
    if contact is not None:
        email, name, language = contact
        await _email(session, escalation, what, to=email, name=name, language=language)


async def _tell_admins(session: AsyncSession, escalation: Escalation, what: str) -> None:
    for admin in await users.list_users(session, role=Role.admin, limit=50):
        await _email(
            session,
            escalation,
            what,
            to=admin.email,
            name=admin.name or "",
            language=admin.preferences.get("language", "en"),
        )


async def _email(
    session: AsyncSession, escalation: Escalation, what: str, *, to: str, name: str, language: str
) -> None:
    english, italian = WHAT[what]
    await queue_email(
        session,
        to=to,
        template="escalation_update",
        language=language,
        name=name,
        urgency=escalation.urgency.value,
        priority=str(escalation.priority),
        what=english,
        what_it=italian,
        due=escalation.sla_due_at.strftime("%Y-%m-%d %H:%M"),
        escalation_id=str(escalation.id),
    )
