"""Budget alerts reach people: each alert raised (audited, once per threshold and period,
by `wellcoach.costs.budgets`) is also emailed to every administrator.

Here rather than in `costs`, which may not import accounts or notify: the chat turn and
the scheduled check both raise alerts through this module.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.accounts import repository as users
from wellcoach.config import CostSettings
from wellcoach.costs import budgets
from wellcoach.costs.budgets import PLATFORM_DAY, Alert
from wellcoach.models.enums import Role
from wellcoach.notify.email import queue_email


async def raise_and_notify(session: AsyncSession, alerts: list[Alert]) -> list[Alert]:
    """Raise the alerts not raised before, and email each one to the administrators."""
    raised = await budgets.raise_alerts(session, alerts)
    if not raised:
        return raised
    admins = await users.list_users(session, role=Role.admin, limit=50)
    for alert in raised:
        what = (
            "The platform"
            if alert.scope == PLATFORM_DAY
            else f"A {alert.tier} user (id {alert.user_id})"
        )
        percent = (alert.spent_usd / alert.budget_usd * 100).quantize(Decimal("1"))
        for admin in admins:
            await queue_email(
                session,
                to=admin.email,
                template="budget_alert",
                user_id=admin.id,
                name=admin.name or "",
                what=what,
                spent=str(alert.spent_usd.quantize(Decimal("0.01"))),
                budget=str(alert.budget_usd.quantize(Decimal("0.01"))),
                period=alert.period_start.isoformat(),
                percent=str(percent),
            )
    return raised


async def check_platform_budget(
    session: AsyncSession, costs: CostSettings, now: datetime | None = None
) -> list[Alert]:
    """The platform's daily budget, checked on a schedule: spend outside chat turns
    (summaries, ingest) raises its alert without waiting for the next turn."""
    return await raise_and_notify(session, await budgets.platform_alerts_due(session, costs, now))
