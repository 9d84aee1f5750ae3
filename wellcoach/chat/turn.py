"""What a chat turn carries between the pipeline's steps: the turn itself, its plan
(decided before any model is asked), the model's outcome, the result, and the timer every
step reports to."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.chat.deps import ChatServices
from wellcoach.config import EmergencyResource
from wellcoach.costs.budgets import Spend
from wellcoach.costs.ledger import LedgerRow, Usage
from wellcoach.costs.pricing import PriceTable
from wellcoach.health.service import CoachView
from wellcoach.llm import cache
from wellcoach.models import ChatSession, Message, User
from wellcoach.rag.retrieval import Passage

# events for a live listener (Socket.IO): ("typing", ""), ("token", text), ("reset", "")
Sink = Callable[[str, str], Awaitable[None]]


@dataclass
class Turn:
    """One turn in flight: the message and its context, and what every step of the
    pipeline shares (the session it reads with, the services it calls, the timer it
    reports to, the provider calls it has made so far, the listener it streams to)."""

    services: ChatServices
    session: AsyncSession
    user: User
    chat_session: ChatSession
    message: Message
    text: str
    language: str = "en"
    personality: str = "empathetic"
    sport: str | None = None
    sink: Sink | None = None
    # the user's country (their profile's unless given): whose crisis resources they get
    country: str | None = None
    # the language the user chose; `language` becomes the message's own (`preprocess`)
    profile_language: str = ""
    # read by the context step
    mood: int | None = None
    history: list[tuple[str, str]] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    spend: Spend = field(default_factory=Spend)  # in each budget's period, before the turn
    kb_version: str = ""  # part of the response-cache key
    # with the health_data consent: the recent health summary and alerts
    health: CoachView | None = None
    wants_human: bool = False
    # every provider call of the turn, with what a cache hit saved; stored with the reply
    ledger: list[tuple[Usage, Decimal | None]] = field(default_factory=list)
    timer: Timer = field(default_factory=lambda: Timer())

    def __post_init__(self) -> None:
        if self.country is None:
            self.country = self.user.country
        self.profile_language = self.profile_language or self.language

    @property
    def personal(self) -> bool:
        """The prompt carries something of this user's: its answer is never shared."""
        return bool(
            self.history or self.mood is not None or self.summaries or self.health is not None
        )

    def spent_so_far(self, prices: PriceTable, now: datetime) -> Spend:
        """The spend before the turn, with what this turn has used (its rows are not
        written yet)."""
        return self.spend.plus(
            sum(
                (
                    prices.cost(u.model, now, u.tokens_in, u.tokens_out, u.tokens_cached)
                    for u, _ in self.ledger
                    if not u.cache_hit
                ),
                Decimal(0),
            )
        )


@dataclass
class TurnResult:
    text: str
    crisis: bool
    category: str | None
    model: str
    provider: str
    citations: list[dict[str, str]]
    confidence: float
    cache_hit: bool
    timings_ms: dict[str, float]
    offer_human: bool
    wants_human: bool
    route_reason: str
    sanitized: bool = False
    # the turn's cost-ledger rows, written with the reply
    ledger_rows: list[LedgerRow] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        total = round(sum(v for k, v in self.timings_ms.items() if "." not in k), 2)
        return {
            "model_used": self.model,
            "provider": self.provider,
            "processing_time": total,
            "confidence_score": round(self.confidence, 3),
            "citations": self.citations,
            "crisis": self.crisis,
            "cache_hit": self.cache_hit,
            "route": self.route_reason,
            "steps_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


class Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def step(self, name: str) -> _Step:
        return _Step(self, name)


class _Step:
    def __init__(self, timer: Timer, name: str) -> None:
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = (time.perf_counter() - self.started) * 1000
        self.timer.timings[self.name] = self.timer.timings.get(self.name, 0.0) + elapsed


@dataclass
class Plan:
    """Everything generation needs, decided before any model is asked."""

    crisis: bool
    passages: list[Passage]
    retrieval_ms: dict[str, float]
    resources: list[EmergencyResource]
    offer_human: bool
    messages: list[dict[str, str]]
    model: str
    route_reason: str
    key: cache.CacheKey | None
    hit: dict[str, Any] | None


@dataclass
class Outcome:
    text: str
    provider: str
    model: str
    cited: list[Passage]
    usages: list[tuple[Usage, Decimal | None]]
    elapsed_ms: float
    finished_at: float
