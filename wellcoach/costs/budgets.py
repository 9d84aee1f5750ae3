"""LLM budgets: how close spend is to each one, and the alerts their thresholds raise.

Three budgets bound what LLM calls cost:

- the platform's, per UTC day (`costs.daily_platform_budget_usd`; SPEC warns above
  $500 a day);
- each user's, per calendar month (UTC), by tier (`costs.monthly_budget_per_user_usd`);
- each user's, per UTC day, by tier (`llm.tiers[tier].daily_budget_usd`).

Nothing is refused for cost. Routing (`wellcoach.llm.routing`) reads the pressure: at
`costs.degrade_at` of any budget a turn gets the tier's cheapest model, at
`costs.offline_at` the offline composer (which costs nothing).

Alerts: crossing a fraction in `costs.alert_thresholds` of the platform's daily budget
or of a user's monthly budget raises one alert per threshold and period: a `cost_alerts`
row (unique, so concurrent turns and API replicas raise it once), an audit entry
(`costs.budget_alert`) and a `budget_alert` warning in the log, which log-based alerting
routes to the on-call channel. A chat turn checks after it is answered, with the spend it
read before and its own cost; alerts already raised come with the turn's facts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach import audit
from wellcoach.config import CostSettings
from wellcoach.costs import repository
from wellcoach.costs.repository import PLATFORM_DAY, USER_MONTH

log = structlog.get_logger(__name__)

Level = Literal["normal", "cheapest", "offline"]
AUDIT_ACTION = "costs.budget_alert"


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


@dataclass(frozen=True)
class Spend:
    """What has been spent in each budget's current period, and the alerts already
    raised in them (`(scope, threshold)`)."""

    user_today: Decimal = Decimal(0)
    user_month: Decimal = Decimal(0)
    platform_today: Decimal = Decimal(0)
    alerted: frozenset[tuple[str, Decimal]] = field(default_factory=frozenset)

    def plus(self, cost: Decimal) -> Spend:
        """The same periods with `cost` more spent (by the user, so by the platform)."""
        return replace(
            self,
            user_today=self.user_today + cost,
            user_month=self.user_month + cost,
            platform_today=self.platform_today + cost,
        )


def parse_alerted(raised: list[str] | None) -> frozenset[tuple[str, Decimal]]:
    """`scope:threshold` strings (`repository.alerts_raised`) as pairs."""
    pairs = (item.split(":", 1) for item in raised or ())
    return frozenset((scope, Decimal(threshold).normalize()) for scope, threshold in pairs)


@dataclass(frozen=True)
class Pressure:
    """How close spend is to the nearest budget: its name and spend/budget ratio, and
    what routing does about it."""

    level: Level
    budget: str | None
    ratio: Decimal


def pressure(
    costs: CostSettings, tier: str, spend: Spend, daily_user_budget: Decimal | None = None
) -> Pressure:
    """Deterministic: the highest spend/budget ratio among the budgets that apply."""
    ratios: list[tuple[Decimal, str]] = [
        (spend.platform_today / costs.daily_platform_budget_usd, PLATFORM_DAY)
    ]
    monthly = costs.monthly_budget_per_user_usd.get(tier)
    if monthly is not None:
        ratios.append((spend.user_month / monthly, USER_MONTH))
    if daily_user_budget is not None and daily_user_budget > 0:
        ratios.append((spend.user_today / daily_user_budget, "user_day"))
    ratio, budget = max(ratios, key=lambda pair: pair[0])
    if ratio >= costs.offline_at:
        return Pressure("offline", budget, ratio)
    if ratio >= costs.degrade_at:
        return Pressure("cheapest", budget, ratio)
    return Pressure("normal", None, ratio)


@dataclass(frozen=True)
class Alert:
    scope: str  # PLATFORM_DAY | USER_MONTH
    threshold: Decimal
    budget_usd: Decimal
    spent_usd: Decimal
    period_start: date
    user_id: uuid.UUID | None = None
    tier: str | None = None


def due_alerts(
    costs: CostSettings,
    spend: Spend,
    *,
    now: datetime,
    user_id: uuid.UUID | None = None,
    tier: str | None = None,
) -> list[Alert]:
    """The thresholds `spend` has reached and that were not alerted yet this period."""
    due: list[Alert] = []
    monthly = costs.monthly_budget_per_user_usd.get(tier) if tier is not None else None
    budgets: list[tuple[str, Decimal | None, Decimal, date]] = [
        (
            PLATFORM_DAY,
            costs.daily_platform_budget_usd,
            spend.platform_today,
            day_start(now).date(),
        ),
        (USER_MONTH, monthly if user_id else None, spend.user_month, month_start(now).date()),
    ]
    for scope, budget, spent, period in budgets:
        if budget is None:
            continue
        for threshold in costs.alert_thresholds:
            if spent >= budget * threshold and (scope, threshold.normalize()) not in spend.alerted:
                due.append(
                    Alert(
                        scope=scope,
                        threshold=threshold,
                        budget_usd=budget,
                        spent_usd=spent,
                        period_start=period,
                        user_id=user_id if scope == USER_MONTH else None,
                        tier=tier if scope == USER_MONTH else None,
                    )
                )
    return due


async def raise_alerts(session: AsyncSession, alerts: list[Alert]) -> list[Alert]:
    """Record each alert not raised before (concurrent callers: one wins), with its audit
    entry and log line; returns those raised now. Flushes, never commits."""
    raised: list[Alert] = []
    for alert in alerts:
        alert_id = await repository.add_alert(
            session,
            scope=alert.scope,
            user_id=alert.user_id,
            tier=alert.tier,
            period_start=alert.period_start,
            threshold=alert.threshold,
            budget_usd=alert.budget_usd,
            spent_usd=alert.spent_usd,
        )
        if alert_id is None:
            continue
        details = {
            "scope": alert.scope,
            "threshold": str(alert.threshold),
            "budget_usd": str(alert.budget_usd),
            "spent_usd": str(alert.spent_usd),
            "period_start": alert.period_start.isoformat(),
            "tier": alert.tier,
        }
        await audit.record(
            session,
            AUDIT_ACTION,
            user_id=alert.user_id,
            resource_type="cost_alert",
            resource_id=alert_id,
            details=details,
        )
        log.warning(
            "budget_alert",
            **details,
            user_id=str(alert.user_id) if alert.user_id else None,
        )
        raised.append(alert)
    return raised


async def check_platform(
    session: AsyncSession, costs: CostSettings, now: datetime | None = None
) -> list[Alert]:
    """Raise the platform's daily alerts that are due, reading today's spend (for work
    that spends outside chat turns, e.g. a scheduled check or an ingest)."""
    return await raise_alerts(session, await platform_alerts_due(session, costs, now))


async def platform_alerts_due(
    session: AsyncSession, costs: CostSettings, now: datetime | None = None
) -> list[Alert]:
    """The platform's daily alerts due now, not raised."""
    now = now or datetime.now(UTC)
    spent = await repository.platform_spent(session, day_start(now).date())
    alerted = frozenset(
        (PLATFORM_DAY, threshold.normalize())
        for threshold in await repository.platform_alerts_on(session, day_start(now).date())
    )
    spend = Spend(platform_today=spent, alerted=alerted)
    return due_alerts(costs, spend, now=now)
