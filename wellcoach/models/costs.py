"""The LLM cost ledger: every LLM, embedding or moderation call, cache hits included; the
platform's daily spend kept beside it; the budget alerts raised."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Index, Integer, Numeric, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from wellcoach.db.base import Base, IdMixin, utcnow


class LlmCall(IdMixin, Base):
    """No foreign key to users: finance keeps the ledger after an account is erased."""

    __tablename__ = "llm_calls"
    __table_args__ = (
        Index(None, "created_at"),
        Index(None, "user_id", "created_at"),
        Index(None, "model", "created_at"),
    )

    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    user_id: Mapped[uuid.UUID | None]
    tier: Mapped[str | None] = mapped_column(String(16))
    # the user's team when the call was made: reports by team survive profile changes
    team: Mapped[str | None] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    # the tier's top model, when routing or a budget had another model (or the offline
    # composer) answer instead: what the call would have cost without routing
    routed_from: Mapped[str | None] = mapped_column(String(100))
    # every prompt token, the cached ones included (as providers report them)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    # prompt tokens served from the provider's prompt cache, priced at the cached rate
    tokens_cached: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 8), default=Decimal(0))
    saved_usd: Mapped[Decimal] = mapped_column(Numeric(14, 8), default=Decimal(0))
    # the `effective_from` of the price row that priced the call; None: no price known
    price_effective_from: Mapped[date | None]
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    error_code: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[uuid.UUID | None]
    message_id: Mapped[uuid.UUID | None]
    request_id: Mapped[str | None] = mapped_column(String(64))


class LlmSpendDaily(Base):
    """The platform's LLM spend per UTC day, so a chat turn reads it from a few rows.

    Written only by the `llm_calls_roll_up` trigger (migration 0005), once per statement
    that inserts ledger rows: it adds to a row of the day that no other transaction holds
    (SKIP LOCKED) or starts a new one with a random shard, so a long transaction (a
    knowledge-base ingest) never makes a chat turn wait. The day's spend is the sum of its
    rows; there are about as many as transactions that once wrote at the same time."""

    __tablename__ = "llm_spend_daily"

    day: Mapped[date] = mapped_column(primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(18, 8), default=Decimal(0))
    calls: Mapped[int] = mapped_column(BigInteger, default=0)


class CostAlert(IdMixin, Base):
    """A budget threshold crossed, once per scope, subject, period and threshold."""

    __tablename__ = "cost_alerts"
    __table_args__ = (
        UniqueConstraint(
            "scope", "user_id", "period_start", "threshold", postgresql_nulls_not_distinct=True
        ),
    )

    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    scope: Mapped[str] = mapped_column(String(16))  # "platform_day" | "user_month"
    user_id: Mapped[uuid.UUID | None]  # for "user_month"
    tier: Mapped[str | None] = mapped_column(String(16))
    period_start: Mapped[date]
    threshold: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    budget_usd: Mapped[Decimal] = mapped_column(Numeric(14, 8))
    spent_usd: Mapped[Decimal] = mapped_column(Numeric(14, 8))
