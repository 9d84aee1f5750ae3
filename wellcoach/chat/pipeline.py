"""The coaching pipeline: one function, one small step each, every step timed.

preprocess → safety → context → retrieval → prompt → routing → cache → generation
(streamed, timeout, retries, fallback model, then the offline composer) →
post-processing → cache store → context update. The user's message is already
committed when this runs; every provider call becomes a ledger row.
"""

from __future__ import annotations

import asyncio
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.chat import repository
from wellcoach.chat.postprocess import asks_for_human, sanitize
from wellcoach.chat.safety import assess
from wellcoach.config import EmergencyResource, Settings
from wellcoach.costs.ledger import Usage, price, record_usage
from wellcoach.llm import cache, offline
from wellcoach.llm.prompts import build_messages
from wellcoach.llm.providers import GenerationFailed, OpenAIProvider
from wellcoach.llm.routing import route
from wellcoach.llm.selection import provider_name
from wellcoach.models import ChatSession, LlmCall, Message, User
from wellcoach.models.enums import ConsentPurpose, MessageType
from wellcoach.platform import Platform
from wellcoach.rag.ingest import current_state
from wellcoach.rag.retrieval import Passage, SearchFilters
from wellcoach.rag.service import document_passages, search_kb

# events for a live listener (Socket.IO): ("typing", ""), ("token", text), ("reset", "")
Sink = Callable[[str, str], Awaitable[None]]
ITALIAN_HINTS = re.compile(
    r"\b(non|sono|che|della|perch[eé]|come|cosa|anche|allenamento|partita|gara|mi|ho|sto)\b"
)
ENGLISH_HINTS = re.compile(r"\b(the|and|i'm|im|my|what|how|because|training|game|race)\b")


@dataclass
class TurnContext:
    user: User
    chat_session: ChatSession
    message: Message
    text: str
    language: str = "en"
    personality: str = "empathetic"
    sport: str | None = None
    mood: int | None = None
    history: list[tuple[str, str]] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    health: dict[str, Any] | None = None


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


_providers: dict[int, OpenAIProvider] = {}


def openai_for(platform: Platform) -> OpenAIProvider:
    """One client per platform, so HTTP connections to the provider are reused."""
    key = id(platform)
    if key not in _providers:
        _providers[key] = OpenAIProvider(platform.settings)
    return _providers[key]


def preprocess(text: str, preferred: str) -> tuple[str, str]:
    """Clean the text and pick the reply language: the user's, unless the message is
    clearly written in the other supported language."""
    cleaned = "".join(
        ch for ch in unicodedata.normalize("NFC", text) if ch.isprintable() or ch in "\n"
    )
    cleaned = re.sub(r"[ \t]+", " ", cleaned).strip()
    lowered = cleaned.lower()
    italian, english = len(ITALIAN_HINTS.findall(lowered)), len(ENGLISH_HINTS.findall(lowered))
    if italian >= 2 and italian > english * 2:
        return cleaned, "it"
    if english >= 2 and english > italian * 2:
        return cleaned, "en"
    return cleaned, preferred


def resources_for(
    settings: Settings, language: str, country: str | None
) -> list[EmergencyResource]:
    code = (country or settings.safety.default_country.get(language, "eu")).lower()
    return settings.safety.resources.get(code) or settings.safety.resources.get("eu", [])


async def gather_context(session: AsyncSession, platform: Platform, turn: TurnContext) -> None:
    """History, earlier session summaries, latest mood; health only with consent."""
    from wellcoach.accounts.service import has_consent

    recent = await repository.recent_messages(
        session, turn.user.id, turn.chat_session.id, platform.settings.llm.history_messages + 1
    )
    vault = platform.vault
    for message in recent:
        if message.id == turn.message.id:
            continue
        content = await vault.open_text(
            session, turn.user.id, message.content_encrypted, purpose="message"
        )
        turn.history.append(("assistant" if message.type == MessageType.ai else "user", content))
    for earlier in await repository.previous_summaries(session, turn.user.id, turn.chat_session.id):
        assert earlier.summary_encrypted is not None
        turn.summaries.append(
            await vault.open_text(
                session, turn.user.id, earlier.summary_encrypted, purpose="session_summary"
            )
        )
    moods = await repository.moods(session, turn.user.id)
    if moods:
        turn.mood = moods[-1].mood
    if turn.user.preferences.get("health_data_sync") and await has_consent(
        session, turn.user.id, ConsentPurpose.health_data
    ):
        turn.health = None  # health summaries arrive with the health data feature


async def spent_today(session: AsyncSession, user: User) -> float:
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    total = await session.scalar(
        select(func.coalesce(func.sum(LlmCall.cost_usd), 0)).where(
            LlmCall.user_id == user.id, LlmCall.created_at >= start
        )
    )
    return float(total or 0)


def citations_of(passages: list[Passage]) -> list[dict[str, str]]:
    return [
        {"document_id": p.document_id, "title": p.title, "citation": p.citation} for p in passages
    ]


async def run_turn(
    session: AsyncSession,
    platform: Platform,
    turn: TurnContext,
    *,
    sink: Sink | None = None,
    country: str | None = None,
) -> TurnResult:
    settings = platform.settings
    timer = Timer()
    provider = provider_name(settings)
    openai_provider = openai_for(platform) if provider == "openai" else None
    ledger: list[tuple[Usage, Decimal | None]] = []

    with timer.step("preprocess"):
        turn.text, turn.language = preprocess(turn.text, turn.language)
    with timer.step("safety"):
        # the exemplar layer embeds the message (a few ms of CPU): off the event loop
        verdict = await asyncio.to_thread(assess, turn.text, turn.language)
        crisis, category = verdict.crisis, verdict.category
        if not crisis and openai_provider is not None and settings.llm.moderation:
            flagged = await openai_provider.moderation_flagged(turn.text)
            if flagged:  # an extra signal: it can add a crisis, never remove one
                crisis, category = True, category or "self_harm"
    if sink is not None:
        await sink("typing", "")
    with timer.step("context"):
        await gather_context(session, platform, turn)
    with timer.step("retrieval"):
        filters = SearchFilters(
            sport=turn.sport,
            language=turn.language,
            category="emergency_protocols" if crisis else None,
        )
        found = await search_kb(
            session,
            platform,
            turn.text,
            filters,
            top_k=4,
            user_id=turn.user.id,
            tier=turn.user.tier.value,
        )
        passages = found.passages
        whole = await document_passages(session, passages[:3]) if passages else {}
    resources = resources_for(settings, turn.language, country)
    wants_human = asks_for_human(turn.text)
    offer_human = wants_human or crisis or (turn.mood is not None and turn.mood <= 3)
    motivational = turn.personality == "motivational"
    with timer.step("prompt"):
        context_lines = [f"Earlier sessions: {s}" for s in turn.summaries]
        messages = build_messages(
            text=turn.text,
            language=turn.language,
            personality=turn.personality,
            sport=turn.sport,
            mood=turn.mood,
            context_lines=context_lines,
            history=turn.history,
            passages=passages,
            crisis=crisis,
            resources=resources,
            motivational=motivational,
            token_budget=settings.llm.prompt_token_budget,
        )
    with timer.step("routing"):
        spent = await spent_today(session, turn.user)
        chosen = route(settings.llm, turn.user.tier.value, turn.text, len(turn.history), spent)
        model = chosen.model if openai_provider is not None else offline.MODEL

    personal = bool(turn.history or turn.mood is not None or turn.health or turn.summaries)
    cacheable = not crisis and not personal and not wants_human
    key = None
    hit = None
    if cacheable:
        with timer.step("cache"):
            state = await current_state(session) or {}
            key = cache.CacheKey(
                turn.text,
                turn.personality,
                turn.language,
                turn.sport,
                str(state.get("kb_version")),
                model,
            )
            hit = await cache.get(platform.redis, key)

    cited = passages[:3]
    text = ""
    used_provider = "offline"
    with timer.step("generation"):
        if hit is not None:
            text, used_provider, model = hit["text"], hit["provider"], hit["model"]
            cited_ids = {c["document_id"] for c in hit["citations"]}
            cited = [p for p in passages if p.document_id in cited_ids] or cited
            saved = Decimal(str(hit.get("cost_usd", "0")))
            ledger.append(
                (Usage(provider=used_provider, model=model, purpose="chat", cache_hit=True), saved)
            )
        elif crisis and openai_provider is None:
            text = offline.crisis_reply(turn.language, resources)
        elif openai_provider is not None:
            models = [model, settings.llm.fallback_model]

            async def on_token(token: str) -> None:
                if sink is not None:
                    await sink("token", token)

            async def on_restart() -> None:
                if sink is not None:
                    await sink("reset", "")

            try:
                generation, failures = await openai_provider.generate_with_fallback(
                    messages, models, purpose="chat", on_token=on_token, on_restart=on_restart
                )
                ledger.extend((failure, None) for failure in failures)
                ledger.append((generation.usage, None))
                text, used_provider, model = generation.text, "openai", generation.usage.model
            except GenerationFailed as failed:
                ledger.extend((failure, None) for failure in failed.attempts)
                text = ""
        if not text:  # the offline provider: a reply always arrives
            model, used_provider = offline.MODEL, "offline"
            if crisis:
                text = offline.crisis_reply(turn.language, resources)
            else:
                text, cited = offline.compose(
                    offline.ComposeRequest(
                        query=turn.text,
                        language=turn.language,
                        personality=turn.personality,
                        sport=turn.sport,
                        passages=passages,
                        offer_human=offer_human,
                        document_passages=whole,
                    )
                )
            ledger.append((Usage(provider="offline", model=model, purpose="chat"), None))
            if sink is not None:
                for piece in re.findall(r"\S+\s*", text):
                    await sink("token", piece)

    with timer.step("postprocess"):
        text, sanitized = sanitize(text, turn.language)
        if crisis and used_provider == "openai":
            # the emergency contacts must be there whatever the model wrote
            listed = "\n".join(f"- {r.name} ({r.organisation}): {r.contact}" for r in resources)
            if resources and resources[0].contact not in text:
                text += "\n\n" + listed
        if offer_human and used_provider == "openai" and not crisis:
            text += "\n\n" + offline.HUMAN_OFFER.get(turn.language, offline.HUMAN_OFFER["en"])

    for usage, saved in ledger:
        await record_usage(
            session,
            usage,
            settings.llm.prices,
            user_id=turn.user.id,
            tier=turn.user.tier.value,
            session_id=turn.chat_session.id,
            message_id=turn.message.id,
            saved_usd=saved,
        )

    if key is not None and hit is None and not sanitized:
        generated = next((u for u, _ in reversed(ledger) if u.status == "ok"), None)
        cost = (
            price(settings.llm.prices, model, generated.tokens_in, generated.tokens_out)
            if generated
            else 0
        )
        await cache.put(
            platform.redis,
            key,
            {
                "text": text,
                "provider": used_provider,
                "model": model,
                "citations": citations_of(cited),
                "cost_usd": str(cost),
            },
            settings.llm.cache_ttl_seconds,
        )

    confidence = max((p.similarity for p in passages), default=0.0)
    return TurnResult(
        text=text,
        crisis=crisis,
        category=category,
        model=model,
        provider=used_provider,
        citations=citations_of(cited),
        confidence=confidence,
        cache_hit=hit is not None,
        timings_ms=timer.timings | {f"retrieval.{k}": v for k, v in found.timings_ms.items()},
        offer_human=offer_human,
        wants_human=wants_human,
        route_reason=chosen.reason,
        sanitized=sanitized,
    )
