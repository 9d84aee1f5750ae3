"""Every LLM, embedding or moderation call becomes one ledger row, priced when it is made.

The ledger owns its rows: writers build a `LedgerRow` and hand it to
`wellcoach.costs.repository.add` (or, on a chat turn, to the statement that stores the
reply, which embeds the ledger's insert so the turn stays one round trip). A row is
priced from the price table (`wellcoach.costs.pricing`) by the price in force at its
`created_at`, and records which one: a later price never rewrites what a call cost.

Purposes in use: chat, session_summary, retrieval (a query embedding), kb_ingest,
moderation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from wellcoach.costs.pricing import PriceTable
from wellcoach.costs.tokens import estimate_tokens
from wellcoach.db.base import new_id, utcnow

__all__ = ["LedgerRow", "Usage", "estimate_tokens"]


@dataclass
class Usage:
    """What one provider call consumed; filled by the provider, priced by the ledger.
    `tokens_in` counts every prompt token, `tokens_cached` those of them the provider
    served from its prompt cache."""

    provider: str
    model: str
    purpose: str
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0
    tokens_estimated: bool = False
    latency_ms: int = 0
    status: str = "ok"
    error_code: str | None = None
    cache_hit: bool = False
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One row of the cost ledger (table `llm_calls`)."""

    id: uuid.UUID
    created_at: datetime
    purpose: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    tokens_cached: int
    tokens_estimated: bool
    cost_usd: Decimal
    saved_usd: Decimal
    price_effective_from: date | None
    cache_hit: bool
    latency_ms: int
    status: str
    error_code: str | None
    user_id: uuid.UUID | None = None
    tier: str | None = None
    team: str | None = None
    routed_from: str | None = None
    session_id: uuid.UUID | None = None
    message_id: uuid.UUID | None = None
    request_id: str | None = None

    @classmethod
    def of(
        cls,
        usage: Usage,
        prices: PriceTable,
        *,
        user_id: uuid.UUID | None = None,
        tier: str | None = None,
        team: str | None = None,
        routed_from: str | None = None,
        session_id: uuid.UUID | None = None,
        message_id: uuid.UUID | None = None,
        request_id: str | None = None,
        saved_usd: Decimal | None = None,
        created_at: datetime | None = None,
    ) -> LedgerRow:
        """The row of one call, priced now (or at `created_at`). A cache hit costs
        nothing and records what it saved; its price date stays that of the model's
        price then, so a report can tell which price the saving was counted at."""
        when = created_at or utcnow()
        row = prices.price_at(usage.model, when)
        cost = (
            Decimal(0)
            if row is None or usage.cache_hit
            else row.cost(usage.tokens_in, usage.tokens_out, usage.tokens_cached)
        )
        return cls(
            id=new_id(),
            created_at=when,
            purpose=usage.purpose,
            provider=usage.provider,
            model=usage.model,
            tokens_in=usage.tokens_in,
            tokens_out=usage.tokens_out,
            tokens_cached=usage.tokens_cached,
            tokens_estimated=usage.tokens_estimated,
            cost_usd=cost.quantize(Decimal("0.00000001")),
            saved_usd=saved_usd or Decimal(0),
            price_effective_from=row.effective_from if row is not None else None,
            cache_hit=usage.cache_hit,
            latency_ms=usage.latency_ms,
            status=usage.status,
            error_code=usage.error_code,
            user_id=user_id,
            tier=tier,
            team=team,
            routed_from=routed_from if routed_from != usage.model else None,
            session_id=session_id,
            message_id=message_id,
            request_id=request_id,
        )

    def values(self) -> dict[str, Any]:
        """Column values, for statements that insert rows in bulk."""
        return {name: getattr(self, name) for name in self.__slots__}
