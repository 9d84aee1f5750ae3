"""Generation: the response cache or the model (streamed, with its fallback), the
offline composer when nobody answered, and the answer held back while the provider's
moderation verdict is out."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from wellcoach.chat.turn import Outcome, Plan, Sink, Turn
from wellcoach.costs.ledger import Usage
from wellcoach.llm import offline
from wellcoach.llm.providers import GenerationFailed
from wellcoach.rag.service import document_passages


class HeldSink:
    """Holds streamed events until `release()`: the tokens of a reply generated while
    the moderation verdict is still out reach nobody before the verdict."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.buffer: list[tuple[str, str]] = []
        self.open = False

    async def __call__(self, kind: str, text: str) -> None:
        if self.open:
            await self.sink(kind, text)
        else:
            self.buffer.append((kind, text))

    async def release(self) -> None:
        while self.buffer:
            kind, text = self.buffer.pop(0)
            await self.sink(kind, text)
        self.open = True


async def from_cache_or_model(turn: Turn, plan: Plan, sink: Sink | None) -> Outcome:
    """The reply from the cache or the model (with its fallback), streamed to `sink`; no
    database work, so it can run while the moderation verdict is out. An empty text:
    nobody answered."""
    provider = turn.services.llm
    started = time.perf_counter()
    usages: list[tuple[Usage, Decimal | None]] = []
    cited = plan.passages[:3]
    text, used_provider, model = "", "offline", plan.model
    hit = plan.hit
    if hit is not None:
        text, used_provider, model = hit["text"], hit["provider"], hit["model"]
        cited_ids = {c["document_id"] for c in hit["citations"]}
        cited = [p for p in plan.passages if p.document_id in cited_ids] or cited
        saved = Decimal(str(hit.get("cost_usd", "0")))
        usages.append(
            (Usage(provider=used_provider, model=model, purpose="chat", cache_hit=True), saved)
        )
    elif plan.crisis and provider is None:
        text = offline.crisis_reply(turn.language, plan.resources)
    elif provider is not None and plan.model != offline.MODEL:  # else a budget said offline

        async def on_token(token: str) -> None:
            if sink is not None:
                await sink("token", token)

        async def on_restart() -> None:
            if sink is not None:
                await sink("reset", "")

        try:
            generation, failures = await provider.generate_with_fallback(
                plan.messages,
                [model, turn.services.settings.llm.fallback_model],
                purpose="chat",
                on_token=on_token,
                on_restart=on_restart,
            )
            usages.extend((failure, None) for failure in failures)
            usages.append((generation.usage, None))
            text, used_provider, model = generation.text, "openai", generation.usage.model
        except GenerationFailed as failed:
            usages.extend((failure, None) for failure in failed.attempts)
            text = ""
    finished = time.perf_counter()
    return Outcome(
        text=text,
        provider=used_provider,
        model=model,
        cited=cited,
        usages=usages,
        elapsed_ms=(finished - started) * 1000,
        finished_at=finished,
    )


async def or_offline(turn: Turn, plan: Plan, outcome: Outcome) -> Outcome:
    """The offline provider when nobody else answered: a reply always arrives."""
    if outcome.text:
        return outcome
    started = time.perf_counter()
    model = offline.MODEL
    cited = outcome.cited
    if plan.crisis:
        text = offline.crisis_reply(turn.language, plan.resources)
    else:
        passages = plan.passages
        whole = await document_passages(turn.session, passages[:3]) if passages else {}
        text, cited = offline.compose(
            offline.ComposeRequest(
                query=turn.text,
                language=turn.language,
                personality=turn.personality,
                sport=turn.sport,
                passages=passages,
                offer_human=plan.offer_human,
                document_passages=whole,
                health_alerts=turn.health.alerts if turn.health else (),
            )
        )
    if turn.sink is not None:
        for piece in re.findall(r"\S+\s*", text):
            await turn.sink("token", piece)
    finished = time.perf_counter()
    return Outcome(
        text=text,
        provider="offline",
        model=model,
        cited=cited,
        usages=[*outcome.usages, (Usage(provider="offline", model=model, purpose="chat"), None)],
        elapsed_ms=outcome.elapsed_ms + (finished - started) * 1000,
        finished_at=finished,
    )


async def cancel(task: asyncio.Future[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def answer_under_moderation(
    turn: Turn,
    plan: Plan,
    moderation: asyncio.Task[bool | None],
    replan: Callable[[bool], Awaitable[Plan]],
) -> tuple[Plan, Outcome, bool]:
    """The reply is generated while the moderation verdict is out, its tokens held back;
    if moderation flags a crisis, that reply is dropped unseen and the turn is planned
    and answered again as a crisis. Returns the plan used, the outcome, and the flag."""
    held = HeldSink(turn.sink) if turn.sink is not None else None
    started = time.perf_counter()
    speculative = asyncio.create_task(from_cache_or_model(turn, plan, held))
    try:
        flagged = await moderation
    except BaseException:
        await cancel(speculative)
        raise
    if speculative.done():  # the time spent waiting on moderation alone: upstream time
        waited = time.perf_counter() - speculative.result().finished_at
        turn.timer.timings["moderation"] = max(0.0, waited * 1000)
    if not flagged:
        if held is not None:
            await held.release()
        return plan, await speculative, False
    if speculative.done():  # asked and answered: those calls happened
        turn.ledger.extend(
            (usage, saved)
            for usage, saved in speculative.result().usages
            if usage.provider == "openai" and not usage.cache_hit
        )
    else:
        await cancel(speculative)
        cancelled = Usage(
            provider="openai",
            model=plan.model,
            purpose="chat",
            status="cancelled",
            error_code="moderation_flagged",
            latency_ms=int((time.perf_counter() - started) * 1000),
        )
        turn.ledger.append((cancelled, None))
    plan = await replan(True)
    return plan, await from_cache_or_model(turn, plan, turn.sink), True
