"""Every LLM or embedding call becomes one ledger row, priced from the config table.

The ledger owns its rows: writers build a `LedgerRow` and hand it to
`wellcoach.costs.repository.add` (or, on a chat turn, to the statement that stores the
reply, which embeds the ledger's insert so the turn stays one round trip)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from wellcoach.config import ModelPrice
from wellcoach.db.base import new_id, utcnow


@dataclass
class Usage:
    """What one provider call consumed; filled by the provider, priced by the ledger."""

    provider: str
    model: str
    purpose: str
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_estimated: bool = False
    latency_ms: int = 0
    status: str = "ok"
    error_code: str | None = None
    cache_hit: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def price(prices: dict[str, ModelPrice], model: str, tokens_in: int, tokens_out: int) -> Decimal:
    """Cost in USD; an unknown model costs 0 but is still recorded (and reported as unpriced)."""
    rate = prices.get(model)
    if rate is None:
        return Decimal(0)
    cost = (
        Decimal(str(rate.input)) * tokens_in / 1000 + Decimal(str(rate.output)) * tokens_out / 1000
    )
    return cost.quantize(Decimal("0.00000001"))


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One row of the cost ledger (table `llm_calls`), priced when it is made: a later
    change of the price table never rewrites what a call cost."""

    id: uuid.UUID
    created_at: datetime
    purpose: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    tokens_estimated: bool
    cost_usd: Decimal
    saved_usd: Decimal
    cache_hit: bool
    latency_ms: int
    status: str
    error_code: str | None
    user_id: uuid.UUID | None = None
    tier: str | None = None
    session_id: uuid.UUID | None = None
    message_id: uuid.UUID | None = None
    request_id: str | None = None

    @classmethod
    def of(
        cls,
        usage: Usage,
        prices: dict[str, ModelPrice],
        *,
        user_id: uuid.UUID | None = None,
        tier: str | None = None,
        session_id: uuid.UUID | None = None,
        message_id: uuid.UUID | None = None,
        request_id: str | None = None,
        saved_usd: Decimal | None = None,
    ) -> LedgerRow:
        """The row of one call; a cache hit costs nothing and records what it saved."""
        return cls(
            id=new_id(),
            created_at=utcnow(),
            purpose=usage.purpose,
            provider=usage.provider,
            model=usage.model,
            tokens_in=usage.tokens_in,
            tokens_out=usage.tokens_out,
            tokens_estimated=usage.tokens_estimated,
            cost_usd=Decimal(0)
            if usage.cache_hit
            else price(prices, usage.model, usage.tokens_in, usage.tokens_out),
            saved_usd=saved_usd or Decimal(0),
            cache_hit=usage.cache_hit,
            latency_ms=usage.latency_ms,
            status=usage.status,
            error_code=usage.error_code,
            user_id=user_id,
            tier=tier,
            session_id=session_id,
            message_id=message_id,
            request_id=request_id,
        )

    def values(self) -> dict[str, Any]:
        """Column values, for statements that insert rows in bulk."""
        return {name: getattr(self, name) for name in self.__slots__}


def estimate_tokens(texts: list[str]) -> int:
    """~4 characters a token: used when a provider reports no usage (marked estimated)."""
    return sum(max(1, len(text) // 4) for text in texts)
