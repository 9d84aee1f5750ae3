"""The LLM cost ledger: every LLM or embedding call, cache hits included."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, Index, Integer, Numeric, String, func
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
    purpose: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 8), default=Decimal(0))
    saved_usd: Mapped[Decimal] = mapped_column(Numeric(14, 8), default=Decimal(0))
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    error_code: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[uuid.UUID | None]
    message_id: Mapped[uuid.UUID | None]
    request_id: Mapped[str | None] = mapped_column(String(64))
