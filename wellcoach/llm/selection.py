"""Which provider serves generation: OpenAI(-compatible) when configured, else offline."""

from __future__ import annotations

from wellcoach.config import Settings
from wellcoach.llm.providers import OpenAIProvider


def provider_name(settings: Settings) -> str:
    if settings.llm.provider != "auto":
        return settings.llm.provider
    if settings.openai_api_key is not None or settings.openai_base_url:
        return "openai"
    return "offline"


def make_llm(settings: Settings) -> OpenAIProvider | None:
    """The generation client, or None when replies are composed offline. One per process
    (the platform holds it), so HTTP connections to the provider are reused."""
    return OpenAIProvider(settings) if provider_name(settings) == "openai" else None
