"""The coaching pipeline: one function, one small step each, every step timed.

preprocess → safety → context → retrieval → prompt → routing → cache → generation
(streamed, timeout, retries, fallback model, then the offline composer) →
post-processing → cache store → context update. The user's message is already
committed when this runs; every provider call becomes a ledger row.

The provider's moderation (when configured) is asked as the turn starts and runs
alongside the rest; the reply generated meanwhile is used only once moderation has
answered, and a crisis it flags redoes the turn as a crisis turn.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

from wellcoach.chat import repository
from wellcoach.chat.budget_alerts import raise_and_notify
from wellcoach.chat.deps import Pause
from wellcoach.chat.generation import (
    answer_under_moderation,
    cancel,
    from_cache_or_model,
    or_offline,
)
from wellcoach.chat.postprocess import asks_for_human, sanitize
from wellcoach.chat.safety import assess
from wellcoach.chat.safety import resources as crisis_resources
from wellcoach.chat.turn import Plan, Turn, TurnResult
from wellcoach.config import EmergencyResource, Settings
from wellcoach.costs import budgets
from wellcoach.costs.ledger import LedgerRow, Usage
from wellcoach.costs.pricing import load_price_table
from wellcoach.health import service as health
from wellcoach.llm import cache, offline
from wellcoach.llm.prompts import build_messages
from wellcoach.llm.providers import MODERATION_MODEL, OpenAIProvider
from wellcoach.llm.routing import route, tier_models
from wellcoach.models.enums import MessageType
from wellcoach.rag.ingest import STATE_KEY as KB_STATE_KEY
from wellcoach.rag.retrieval import Passage, SearchFilters, search
from wellcoach.text import clean_text

T = TypeVar("T")

ITALIAN_HINTS = re.compile(
    r"\b(non|sono|che|della|perch[eé]|come|cosa|anche|allenamento|partita|gara|mi|ho|sto)\b"
)
ENGLISH_HINTS = re.compile(r"\b(the|and|i'm|im|my|what|how|because|training|game|race)\b")


def preprocess(text: str, preferred: str) -> tuple[str, str]:
    """Clean the text and pick the reply language: the user's, unless the message is
    clearly written in the other supported language."""
    cleaned = clean_text(text)
    lowered = cleaned.lower()
    italian, english = len(ITALIAN_HINTS.findall(lowered)), len(ENGLISH_HINTS.findall(lowered))
    if italian >= 2 and italian > english * 2:
        return cleaned, "it"
    if english >= 2 and english > italian * 2:
        return cleaned, "en"
    return cleaned, preferred


def resources_for(
    settings: Settings, language: str, country: str | None, profile_language: str | None = None
) -> list[EmergencyResource]:
    """The crisis resources of the user's country, else of the country their profile's
    language (then the message's) implies, else the international ones; worded in the
    reply's `language` (`wellcoach.chat.safety.resources`)."""
    return crisis_resources.resources_for(
        settings.safety, country=country, language=language, languages=[profile_language]
    )


async def gather_context(turn: Turn) -> None:
    """History, earlier session summaries, latest mood, and what routing, budgets and the
    cache need (the spend of each budget's period, the knowledge base's version): one
    round trip."""
    session, vault = turn.session, turn.services.vault
    now = datetime.now(UTC)
    facts = await repository.turn_facts(
        session,
        turn.user.id,
        turn.chat_session.id,
        history_limit=turn.services.settings.llm.history_messages + 1,
        since=budgets.day_start(now),
        month_since=budgets.month_start(now),
        kb_state_key=KB_STATE_KEY,
    )
    for message_id, kind, sealed in facts.history:
        if message_id == turn.message.id:
            continue
        content = await vault.open_text(session, turn.user.id, sealed, purpose="message")
        turn.history.append(("assistant" if kind == MessageType.ai else "user", content))
    for sealed in facts.summaries:
        turn.summaries.append(
            await vault.open_text(session, turn.user.id, sealed, purpose="session_summary")
        )
    turn.mood = facts.mood
    turn.spend = facts.spend
    turn.kb_version = str((facts.kb_state or {}).get("kb_version"))
    if facts.health_consent:
        services = turn.services
        with turn.timer.step("context.health"):
            turn.health = await health.coach_view(
                session, vault, services.health_store, services.redis, turn.user, consented=True
            )


async def _moderated(provider: OpenAIProvider, turn: Turn) -> bool | None:
    """The provider's moderation verdict; its call joins the turn's ledger."""
    result = await provider.moderate(turn.text)
    turn.ledger.append((result.usage, None))
    return result.flagged


def _cancelled_moderation() -> Usage:
    return Usage(
        provider="openai",
        model=MODERATION_MODEL,
        purpose="moderation",
        status="cancelled",
        error_code="crisis_detected",
    )


async def _timed(work: Awaitable[T]) -> tuple[T, float]:
    """The result of `work` and how long it ran, in ms (it may overlap other steps)."""
    started = time.perf_counter()
    result = await work
    return result, (time.perf_counter() - started) * 1000


def citations_of(passages: list[Passage]) -> list[dict[str, str]]:
    return [
        {"document_id": p.document_id, "title": p.title, "citation": p.citation} for p in passages
    ]


async def _plan(turn: Turn, *, crisis: bool) -> Plan:
    """Retrieval, prompt, routing and the cache lookup for a turn (crisis or not)."""
    settings = turn.services.settings
    timer = turn.timer
    with timer.step("retrieval"):
        filters = SearchFilters(
            sport=turn.sport,
            language=turn.language,
            category="emergency_protocols" if crisis else None,
        )
        found = await search(
            turn.session, turn.services.embedder, turn.text, filters, settings.rag, top_k=4
        )
        turn.ledger.append((found.usage, None))  # stored with the reply
        passages = found.passages
    resources = resources_for(settings, turn.language, turn.country, turn.profile_language)
    offer_human = turn.wants_human or crisis or (turn.mood is not None and turn.mood <= 3)
    with timer.step("prompt"):
        messages = build_messages(
            text=turn.text,
            language=turn.language,
            personality=turn.personality,
            sport=turn.sport,
            mood=turn.mood,
            context_lines=[f"Earlier sessions: {s}" for s in turn.summaries]
            + (turn.health.lines if turn.health else []),
            history=turn.history,
            passages=passages,
            crisis=crisis,
            resources=resources,
            motivational=turn.personality == "motivational",
            token_budget=settings.llm.prompt_token_budget,
        )
    with timer.step("routing"):
        spent = turn.spent_so_far(load_price_table(settings.costs.prices_file), datetime.now(UTC))
        chosen = route(
            settings.llm,
            settings.costs,
            turn.user.tier.value,
            turn.text,
            len(turn.history),
            spent,
            crisis=crisis,
        )
        # over a budget the offline composer answers (generation skips the model)
        offline_answer = turn.services.llm is None or chosen.offline
        model = offline.MODEL if offline_answer else chosen.model

    key = None
    hit = None
    if not crisis and not turn.personal and not turn.wants_human:
        with timer.step("cache"):
            key = cache.CacheKey(
                turn.text, turn.personality, turn.language, turn.sport, turn.kb_version, model
            )
            hit = await cache.get(turn.services.redis, key)
    return Plan(
        crisis=crisis,
        passages=passages,
        retrieval_ms=found.timings_ms,
        resources=resources,
        offer_human=offer_human,
        messages=messages,
        model=model,
        route_reason=chosen.reason,
        key=key,
        hit=hit,
    )


async def run_turn(turn: Turn, *, pause: Pause | None = None) -> TurnResult:
    """Answer one turn. It writes nothing but, rarely, a budget alert (once per
    threshold and period): its ledger rows come back in the result, for the caller to
    store with the reply. `pause`, when given, is awaited once the turn
    has read all it needs and is about to wait for the model (the API passes its
    session's `commit`: the connection goes back to the pool while the model writes)."""
    settings = turn.services.settings
    provider = turn.services.llm
    timer = turn.timer

    with timer.step("preprocess"):
        turn.text, turn.language = preprocess(turn.text, turn.language)
    moderation: asyncio.Task[bool | None] | None = None
    if provider is not None and settings.llm.moderation:
        # an extra signal, asked at once and awaited only before the reply is used
        moderation = asyncio.create_task(_moderated(provider, turn))
    # the classifier layer embeds the message (2-3 ms of CPU when the text is new): in a
    # thread, while the context is read from the database; retrieval then finds the
    # embedding in the embedder's cache
    checking = asyncio.create_task(_timed(asyncio.to_thread(assess, turn.text, turn.language)))
    try:
        if turn.sink is not None:
            await turn.sink("typing", "")
        with timer.step("context"):
            await gather_context(turn)
        with timer.step("safety"):  # only the wait left once the context is read
            verdict, timer.timings["safety.check"] = await checking
        crisis, category = verdict.crisis, verdict.category
        if crisis and moderation is not None:
            await cancel(moderation)  # it can only add a crisis
            if moderation.cancelled():  # asked, never answered: a call all the same
                turn.ledger.append((_cancelled_moderation(), None))
            moderation = None
        turn.wants_human = asks_for_human(turn.text)

        async def plan_for(crisis: bool) -> Plan:
            return await _plan(turn, crisis=crisis)

        plan = await plan_for(crisis)
        waits = plan.hit is None and provider is not None and plan.model != offline.MODEL
        if pause is not None and waits:  # a model will be asked
            await pause()
        if moderation is None:
            outcome = await from_cache_or_model(turn, plan, turn.sink)
        else:
            pending, moderation = moderation, None
            plan, outcome, flagged = await answer_under_moderation(turn, plan, pending, plan_for)
            if flagged:
                crisis, category = True, category or "self_harm"
    finally:
        if not checking.done():  # the turn failed before it needed the verdict
            await cancel(checking)
        if moderation is not None:
            await cancel(moderation)
    outcome = await or_offline(turn, plan, outcome)
    timer.timings["generation"] = outcome.elapsed_ms
    turn.ledger.extend(outcome.usages)
    text, used_provider, model = outcome.text, outcome.provider, outcome.model
    resources = plan.resources

    with timer.step("postprocess"):
        text, sanitized = sanitize(text, turn.language)
        if crisis and used_provider == "openai":
            # every emergency contact must be there whatever the model wrote
            missing = crisis_resources.missing_from(text, resources)
            if missing:
                text += "\n\n" + "\n".join(r.line() for r in missing)
        if plan.offer_human and used_provider == "openai" and not crisis:
            text += "\n\n" + offline.HUMAN_OFFER.get(turn.language, offline.HUMAN_OFFER["en"])

    prices = load_price_table(settings.costs.prices_file)
    now = datetime.now(UTC)
    # routing or a budget had a model below the tier's top one (or the offline composer)
    # answer: the answer's row says which model it stood in for
    top = tier_models(settings.llm, turn.user.tier.value).models[-1]
    routed_from = top if provider is not None and plan.model != top else None
    ledger_rows = [
        LedgerRow.of(
            usage,
            prices,
            user_id=turn.user.id,
            tier=turn.user.tier.value,
            team=turn.user.team,
            routed_from=routed_from if usage.purpose == "chat" and usage.status == "ok" else None,
            # the retrieval and moderation rows carry no session ids
            session_id=turn.chat_session.id if usage.purpose == "chat" else None,
            message_id=turn.message.id if usage.purpose == "chat" else None,
            saved_usd=saved,
            created_at=now,
        )
        for usage, saved in turn.ledger
    ]
    due = budgets.due_alerts(
        settings.costs,
        turn.spend.plus(sum((row.cost_usd for row in ledger_rows), Decimal(0))),
        now=now,
        user_id=turn.user.id,
        tier=turn.user.tier.value,
    )
    if due:  # rare: once per threshold and period
        await raise_and_notify(turn.session, due)

    if plan.key is not None and plan.hit is None and not sanitized:
        generated = next((u for u, _ in reversed(outcome.usages) if u.status == "ok"), None)
        cost = (
            prices.cost(
                model, now, generated.tokens_in, generated.tokens_out, generated.tokens_cached
            )
            if generated
            else 0
        )
        await cache.put(
            turn.services.redis,
            plan.key,
            {
                "text": text,
                "provider": used_provider,
                "model": model,
                "citations": citations_of(outcome.cited),
                "cost_usd": str(cost),
            },
            settings.llm.cache_ttl_seconds,
        )

    confidence = max((p.similarity for p in plan.passages), default=0.0)
    return TurnResult(
        text=text,
        crisis=crisis,
        category=category,
        model=model,
        provider=used_provider,
        citations=citations_of(outcome.cited),
        confidence=confidence,
        cache_hit=plan.hit is not None,
        timings_ms=timer.timings | {f"retrieval.{k}": v for k, v in plan.retrieval_ms.items()},
        offer_human=plan.offer_human,
        wants_human=turn.wants_human,
        route_reason=plan.route_reason,
        sanitized=sanitized,
        ledger_rows=ledger_rows,
    )
