"""Ledger queries: the one place that writes `llm_calls`, and the spend reads routing and
budgets make (cost reports have their own module)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    ScalarSelect,
    Table,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy import (
    Text as SqlText,
)
from sqlalchemy import (
    cast as sql_cast,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.models import LlmCall
from wellcoach.models.costs import CostAlert, LlmSpendDaily

if TYPE_CHECKING:
    from wellcoach.costs.ledger import LedgerRow

PLATFORM_DAY = "platform_day"
USER_MONTH = "user_month"


async def add(session: AsyncSession, row: LedgerRow) -> None:
    await session.execute(insert(LlmCall).values(row.values()))


def insert_statement(prefix: str) -> Insert:
    """An insert of one row whose values are bind parameters named `<prefix><column>`, for
    statements that write ledger rows together with something else (a chat reply)."""
    table = cast(Table, LlmCall.__table__)
    return insert(table).values({c.key: bindparam(f"{prefix}{c.key}") for c in table.c})


def insert_params(prefix: str, row: LedgerRow) -> dict[str, Any]:
    """The bind parameters of `insert_statement(prefix)` for `row`."""
    return {f"{prefix}{key}": value for key, value in row.values().items()}


def spent_since(user_id: ColumnElement[Any], since: ColumnElement[Any]) -> ScalarSelect[Any]:
    """A user's spend since a time, as a scalar subquery (routing reads it with the rest
    of a turn's facts, in one statement)."""
    return (
        select(func.coalesce(func.sum(LlmCall.cost_usd), 0))
        .where(LlmCall.user_id == user_id, LlmCall.created_at >= since)
        .scalar_subquery()
    )


def platform_spent_on(day: ColumnElement[Any]) -> ScalarSelect[Any]:
    """The platform's spend on a UTC day, from the trigger-kept daily rows (a few rows,
    whatever the traffic), as a scalar subquery."""
    return (
        select(func.coalesce(func.sum(LlmSpendDaily.cost_usd), 0))
        .where(LlmSpendDaily.day == day)
        .scalar_subquery()
    )


def alerts_raised(
    user_id: ColumnElement[Any], month: ColumnElement[Any], day: ColumnElement[Any]
) -> ScalarSelect[Any]:
    """The budget alerts already raised this period for the user (this month) and the
    platform (today), as `scope:threshold` strings, as a scalar subquery."""
    return (
        select(
            func.array_agg(CostAlert.scope + literal(":") + sql_cast(CostAlert.threshold, SqlText))
        )
        .where(
            or_(
                and_(
                    CostAlert.scope == USER_MONTH,
                    CostAlert.user_id == user_id,
                    CostAlert.period_start == month,
                ),
                and_(CostAlert.scope == PLATFORM_DAY, CostAlert.period_start == day),
            )
        )
        .scalar_subquery()
    )


async def platform_spent(session: AsyncSession, day: date) -> Decimal:
    return Decimal(await session.scalar(select(platform_spent_on(literal(day)))) or 0)


async def user_spent(session: AsyncSession, user_id: uuid.UUID, since: datetime) -> Decimal:
    return Decimal(await session.scalar(select(spent_since(literal(user_id), literal(since)))) or 0)


async def add_alert(
    session: AsyncSession,
    *,
    scope: str,
    user_id: uuid.UUID | None,
    tier: str | None,
    period_start: date,
    threshold: Decimal,
    budget_usd: Decimal,
    spent_usd: Decimal,
) -> uuid.UUID | None:
    """Record an alert unless it was already raised; its id, or None when it was."""
    statement = (
        pg_insert(CostAlert)
        .values(
            id=uuid.uuid4(),
            scope=scope,
            user_id=user_id,
            tier=tier,
            period_start=period_start,
            threshold=threshold,
            budget_usd=budget_usd,
            spent_usd=spent_usd,
        )
        .on_conflict_do_nothing()
        .returning(CostAlert.id)
    )
    return cast(uuid.UUID | None, await session.scalar(statement))


async def platform_alerts_on(session: AsyncSession, day: date) -> list[Decimal]:
    """The thresholds of the platform's daily budget already alerted on `day`."""
    rows = await session.scalars(
        select(CostAlert.threshold).where(
            CostAlert.scope == PLATFORM_DAY, CostAlert.period_start == day
        )
    )
    return list(rows)
