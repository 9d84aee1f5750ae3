"""Ledger queries: the one place that writes and sums `llm_calls`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    ScalarSelect,
    Table,
    bindparam,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.models import LlmCall

if TYPE_CHECKING:
    from wellcoach.costs.ledger import LedgerRow


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
