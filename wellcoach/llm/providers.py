"""Generation through an OpenAI-compatible API, streamed, with timeout and retries.

The `openai` client retries 429/5xx with backoff (`max_retries`); a model that
still fails is replaced by the fallback model, and the caller falls back to the
offline composer after that, so a reply always arrives.

Requests go through the client's low-level `post` with plain dicts in and out: the
typed `chat.completions.create` walks the whole prompt against its TypedDicts and
builds a pydantic model per streamed chunk, about 15 ms of CPU per turn for nothing
we use. Transport, auth, retries, timeouts and error types are the client's.

Token counts are the provider's: streams ask for them (`include_usage`), prompt-cache
hits come from `prompt_tokens_details.cached_tokens`. A server that reports none (some
OpenAI-compatible ones) gets counts made here (`wellcoach.costs.tokens`), marked
estimated. Every call, moderation included, returns its `Usage` for the ledger.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import openai
from openai import AsyncStream

from wellcoach.config import Settings
from wellcoach.costs import tokens
from wellcoach.costs.ledger import Usage

TokenSink = Callable[[str], Awaitable[None]]
MODERATION_MODEL = "omni-moderation-latest"


@dataclass
class Generation:
    text: str
    usage: Usage


@dataclass
class Moderation:
    flagged: bool | None  # None: no verdict (the call failed)
    usage: Usage


def read_usage(usage: Usage, reported: dict[str, Any]) -> None:
    """The provider's counts (chat completions or embeddings usage objects)."""
    usage.tokens_in = int(reported.get("prompt_tokens") or 0)
    usage.tokens_out = int(reported.get("completion_tokens") or 0)
    details = reported.get("prompt_tokens_details")
    if isinstance(details, dict):
        usage.tokens_cached = int(details.get("cached_tokens") or 0)


class GenerationFailed(Exception):
    def __init__(self, attempts: list[Usage]) -> None:
        super().__init__("every model failed")
        self.attempts = attempts


class OpenAIProvider:
    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = openai.AsyncOpenAI(
            api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "-",
            base_url=settings.openai_base_url,
            timeout=settings.llm.request_timeout_seconds,
            max_retries=settings.llm.max_retries,
        )

    async def generate(
        self,
        messages: list[dict[str, str]],
        model: str,
        *,
        purpose: str,
        on_token: TokenSink | None = None,
    ) -> Generation:
        started = time.perf_counter()
        text_parts: list[str] = []
        usage = Usage(provider=self.name, model=model, purpose=purpose)
        stream = await self.client.post(
            "/chat/completions",
            body={
                "model": model,
                "messages": messages,
                "max_tokens": self.settings.llm.max_output_tokens,
                "temperature": 0.6,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            cast_to=object,
            stream=True,
            stream_cls=AsyncStream[object],
        )
        async for chunk in stream:
            if not isinstance(chunk, dict):
                continue
            reported = chunk.get("usage")
            if isinstance(reported, dict):
                read_usage(usage, reported)
            for choice in chunk.get("choices") or ():
                token = (choice.get("delta") or {}).get("content") or ""
                if token:
                    text_parts.append(token)
                    if on_token is not None:
                        await on_token(token)
        text = "".join(text_parts)
        if not usage.tokens_in:  # the server reported no usage: count here
            usage.tokens_in, usage.tokens_out = await asyncio.to_thread(
                lambda: (tokens.count_messages(messages), tokens.count_text(text))
            )
            usage.tokens_cached = 0
            usage.tokens_estimated = True
        usage.latency_ms = int((time.perf_counter() - started) * 1000)
        return Generation(text=text, usage=usage)

    async def generate_with_fallback(
        self,
        messages: list[dict[str, str]],
        models: list[str],
        *,
        purpose: str,
        on_token: TokenSink | None = None,
        on_restart: Callable[[], Awaitable[None]] | None = None,
    ) -> tuple[Generation, list[Usage]]:
        """Try each model in turn; returns the generation and the failed attempts.

        When a model fails after streaming part of its answer, `on_restart` tells the
        listener to discard what it received before the next model starts.
        """
        failures: list[Usage] = []
        streamed = False

        async def sink(token: str) -> None:
            nonlocal streamed
            streamed = True
            if on_token is not None:
                await on_token(token)

        for model in dict.fromkeys(models):  # ordered, without repeats
            if streamed and on_restart is not None:
                await on_restart()
            streamed = False
            started = time.perf_counter()
            try:
                generation = await self.generate(messages, model, purpose=purpose, on_token=sink)
                return generation, failures
            except (openai.APIError, TimeoutError) as exc:
                failures.append(
                    Usage(
                        provider=self.name,
                        model=model,
                        purpose=purpose,
                        status="error",
                        error_code=type(exc).__name__,
                        latency_ms=int((time.perf_counter() - started) * 1000),
                    )
                )
        if streamed and on_restart is not None:
            await on_restart()
        raise GenerationFailed(failures)

    async def moderate(self, text: str) -> Moderation:
        """The provider's moderation verdict (None when it cannot be had), and the call's
        usage: a ledger row like any call (the endpoint reports no tokens: counted here)."""
        started = time.perf_counter()
        usage = Usage(provider=self.name, model=MODERATION_MODEL, purpose="moderation")
        flagged: bool | None = None
        try:
            result = await self.client.post(
                "/moderations",
                body={"model": MODERATION_MODEL, "input": text},
                cast_to=object,
                options={"timeout": 3.0},
            )
        except openai.APIError as exc:
            usage.status, usage.error_code = "error", type(exc).__name__
        else:
            if isinstance(result, dict):
                flagged = any(item.get("flagged") for item in result.get("results") or ())
            if isinstance(result, dict) and isinstance(result.get("usage"), dict):
                read_usage(usage, result["usage"])
        if usage.status == "ok" and not usage.tokens_in:
            # a free endpoint: the quick estimate will do (no tokenizer on this path)
            usage.tokens_in = tokens.estimate_tokens([text])
            usage.tokens_estimated = True
        usage.latency_ms = int((time.perf_counter() - started) * 1000)
        return Moderation(flagged, usage)

    async def moderation_flagged(self, text: str) -> bool | None:
        """The provider's moderation verdict, or None when it cannot be had."""
        return (await self.moderate(text)).flagged
