"""The SQL of the cost reports: aggregates of the ledger (`llm_calls`) over a time range.

Each report is one scan of the range (the `created_at` index bounds it): the groups and
the totals come from the same statement (`GROUPING SETS ((key), ())`), because distinct
counts (active users, messages) of the whole period are not the sum of those of its
groups. Money is summed as PostgreSQL `numeric`, never as floats; what the routing
baseline would have cost is priced in SQL with the baseline model's rates per token
(exact decimals, bound as parameters), one rate per price period of that model.

Buckets of time are UTC days, ISO weeks (from Monday) and calendar months.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Date,
    Numeric,
    Select,
    and_,
    case,
    distinct,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from wellcoach.models import LlmCall

# rendered inline, not bound: the key expression must be the same text in the select
# list and in GROUP BY (two bind parameters are two different expressions to PostgreSQL)
_UTC: ColumnElement[str] = literal_column("'UTC'")
_UTC_TIME = func.timezone(_UTC, LlmCall.created_at)

KEYS: dict[str, ColumnElement[Any] | QueryableAttribute[Any]] = {
    "day": sql_cast(_UTC_TIME, Date),
    "week": sql_cast(func.date_trunc(literal_column("'week'"), _UTC_TIME), Date),
    "month": sql_cast(func.date_trunc(literal_column("'month'"), _UTC_TIME), Date),
    "model": LlmCall.model,
    "tier": LlmCall.tier,
    "user": LlmCall.user_id,
    "purpose": LlmCall.purpose,
    "team": LlmCall.team,
}

# one row per answered user message: the chat call that answered it (a model's reply, a
# cache hit or the offline composer); failed attempts before a fallback are not messages
_ANSWERED = and_(LlmCall.purpose == "chat", LlmCall.status == "ok")

# answered chat calls the router chose a model for: not cache hits (their saving is
# `saved_usd`), not failed attempts, and not the offline composer unless the router sent
# the call there (`routed_from`)
_ROUTED = and_(
    LlmCall.purpose == "chat",
    LlmCall.status == "ok",
    LlmCall.cache_hit.is_(False),
    or_(LlmCall.provider != "offline", LlmCall.routed_from.is_not(None)),
)


REPORT_WORK_MEM = "64MB"


@dataclass(frozen=True)
class Rate:
    """The routing baseline's price from `effective_from` (a UTC day) on, USD per token."""

    effective_from: date
    input: Decimal
    output: Decimal
    cached: Decimal


@dataclass(frozen=True)
class Sums:
    """One group of a report (`total` True: the whole period, `key` None)."""

    key: Any
    total: bool
    calls: int
    messages: int
    active_users: int
    tokens_in: int
    tokens_out: int
    tokens_cached: int
    cost_usd: Decimal
    saved_usd: Decimal
    routing_savings_usd: Decimal


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00 UTC, the day after end 00:00 UTC): whole UTC days, both ends included."""
    since = datetime.combine(start, time(), tzinfo=UTC)
    until = datetime.combine(date.fromordinal(end.toordinal() + 1), time(), tzinfo=UTC)
    return since, until


def _in_range(since: datetime, until: datetime) -> ColumnElement[bool]:
    return and_(LlmCall.created_at >= since, LlmCall.created_at < until)


def _baseline_cost(rates: Sequence[Rate]) -> ColumnElement[Any] | None:
    """What a row's tokens cost at the baseline's rates of the row's day (NULL before the
    baseline had a price). Cached input tokens are part of `tokens_in`, priced at the
    cached rate."""
    if not rates:
        return None
    whens = []
    for rate in sorted(rates, key=lambda r: r.effective_from, reverse=True):
        since = datetime.combine(rate.effective_from, time(), tzinfo=UTC)
        cost = (
            (LlmCall.tokens_in - LlmCall.tokens_cached) * literal(rate.input, Numeric)
            + LlmCall.tokens_cached * literal(rate.cached, Numeric)
            + LlmCall.tokens_out * literal(rate.output, Numeric)
        )
        whens.append((LlmCall.created_at >= since, cost))
    return case(*whens)


def _sums(row: Sequence[Any]) -> Sums:
    """By position, not by name: by user, a report has tens of thousands of groups."""
    key, total, calls, messages, users, t_in, t_out, t_cached, cost, saved, routing = row
    return Sums(
        key=key,
        total=bool(total),
        calls=calls,
        messages=messages,
        active_users=users,
        tokens_in=int(t_in),
        tokens_out=int(t_out),
        tokens_cached=int(t_cached),
        cost_usd=Decimal(cost),
        saved_usd=Decimal(saved),
        routing_savings_usd=Decimal(routing),
    )


def grouped_statement(start: date, end: date, by: str, baseline: Sequence[Rate]) -> Select[Any]:
    """The groups of `by` over [start, end] and the totals of the period (the row whose
    `total` is 1), in one statement."""
    key = KEYS[by]
    since, until = utc_bounds(start, end)
    baseline_cost = _baseline_cost(baseline)
    routing = (
        func.sum(baseline_cost - LlmCall.cost_usd).filter(_ROUTED)
        if baseline_cost is not None
        else literal(Decimal(0), Numeric)
    )
    return (
        select(
            key.label("key"),
            func.grouping(key).label("total"),
            func.count().label("calls"),
            func.count(distinct(func.coalesce(LlmCall.message_id, LlmCall.id)))
            .filter(_ANSWERED)
            .label("messages"),
            func.count(distinct(LlmCall.user_id)).label("active_users"),
            func.coalesce(func.sum(LlmCall.tokens_in), 0).label("tokens_in"),
            func.coalesce(func.sum(LlmCall.tokens_out), 0).label("tokens_out"),
            func.coalesce(func.sum(LlmCall.tokens_cached), 0).label("tokens_cached"),
            func.coalesce(func.sum(LlmCall.cost_usd), 0).label("cost_usd"),
            func.coalesce(func.sum(LlmCall.saved_usd), 0).label("saved_usd"),
            func.coalesce(routing, 0).label("routing"),
        )
        .where(_in_range(since, until))
        .group_by(func.grouping_sets(key, tuple_()))
    )


async def grouped_sums(
    session: AsyncSession, *, start: date, end: date, by: str, baseline: Sequence[Rate]
) -> list[Sums]:
    """The groups of `by` over [start, end] and, last, the totals of the period."""
    statement = grouped_statement(start, end, by, baseline)
    # for this transaction only: a month of a busy ledger sorts in memory (bench/costs_bench.py:
    # ~50 MB for 330,000 rows), not in temporary files
    await session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
    sums = [_sums(row) for row in await session.execute(statement)]
    if not any(s.total for s in sums):  # no row in the range: PostgreSQL returns no total
        sums.append(Sums(None, True, 0, 0, 0, 0, 0, 0, Decimal(0), Decimal(0), Decimal(0)))
    return sums


async def top_spenders(
    session: AsyncSession, *, start: date, end: date, limit: int
) -> list[tuple[uuid.UUID, Decimal, int]]:
    """The users who cost most over [start, end]: (user id, cost, calls), dearest first."""
    since, until = utc_bounds(start, end)
    cost = func.sum(LlmCall.cost_usd)
    statement = (
        select(LlmCall.user_id, cost, func.count())
        .where(_in_range(since, until), LlmCall.user_id.is_not(None))
        .group_by(LlmCall.user_id)
        .order_by(cost.desc(), func.count().desc(), LlmCall.user_id)
        .limit(limit)
    )
    rows = await session.execute(statement)
    return [(user_id, Decimal(total), calls) for user_id, total, calls in rows if user_id]


async def models_first_used(
    session: AsyncSession, *, start: date, end: date
) -> list[tuple[str, datetime]]:
    """Each model called over [start, end] and its first call in the range."""
    since, until = utc_bounds(start, end)
    statement = (
        select(LlmCall.model, func.min(LlmCall.created_at))
        .where(_in_range(since, until))
        .group_by(LlmCall.model)
        .order_by(LlmCall.model)
    )
    return [(model, first) for model, first in await session.execute(statement)]


async def daily_costs(
    session: AsyncSession, *, start: date, end: date, dimension: str
) -> list[tuple[date, str | None, Decimal]]:
    """Cost per UTC day and `dimension` ("model" or "tier") over [start, end]."""
    day, key = KEYS["day"], KEYS[dimension]
    since, until = utc_bounds(start, end)
    statement = (
        select(day, key, func.sum(LlmCall.cost_usd))
        .where(_in_range(since, until))
        .group_by(day, key)
        .order_by(day, key)
    )
    rows = cast(list[tuple[date, str | None, Any]], (await session.execute(statement)).all())
    return [(when, name, Decimal(cost)) for when, name, cost in rows]
