"""Which provider serves generation: OpenAI(-compatible) when configured, else offline."""

from __future__ import annotations

from wellcoach.config import Settings


def provider_name(settings: Settings) -> str:
    if settings.llm.provider != "auto":
        return settings.llm.provider
    if settings.openai_api_key is not None or settings.openai_base_url:
        return "openai"
    return "offline"
