"""Generation through an OpenAI-compatible API, streamed, with timeout and retries.

The `openai` client retries 429/5xx with backoff (`max_retries`); a model that
still fails is replaced by the fallback model, and the caller falls back to the
offline composer after that, so a reply always arrives.

Requests go through the client's low-level `post` with plain dicts in and out: the
typed `chat.completions.create` walks the whole prompt against its TypedDicts and
builds a pydantic model per streamed chunk, about 15 ms of CPU per turn for nothing
we use. Transport, auth, retries, timeouts and error types are the client's.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import openai
from openai import AsyncStream

from wellcoach.config import Settings
from wellcoach.costs.ledger import Usage, estimate_tokens

TokenSink = Callable[[str], Awaitable[None]]


@dataclass
class Generation:
    text: str
    usage: Usage


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
            if reported:
                usage.tokens_in = int(reported.get("prompt_tokens") or 0)
                usage.tokens_out = int(reported.get("completion_tokens") or 0)
            for choice in chunk.get("choices") or ():
                token = (choice.get("delta") or {}).get("content") or ""
                if token:
                    text_parts.append(token)
                    if on_token is not None:
                        await on_token(token)
        text = "".join(text_parts)
        if not usage.tokens_in:
            usage.tokens_in = estimate_tokens([m["content"] for m in messages])
            usage.tokens_out = estimate_tokens([text])
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

    async def moderation_flagged(self, text: str) -> bool | None:
        """The provider's moderation verdict, or None when it cannot be had."""
        try:
            result = await self.client.post(
                "/moderations",
                body={"model": "omni-moderation-latest", "input": text},
                cast_to=object,
                options={"timeout": 3.0},
            )
        except openai.APIError:
            return None
        if not isinstance(result, dict):
            return None
        return any(item.get("flagged") for item in result.get("results") or ())
