"""Model routing: query complexity × the user's tier × what is left of today's budget."""

from __future__ import annotations

import re
from dataclasses import dataclass

from wellcoach.config import LlmSettings

COMPLEX_MARKERS = re.compile(
    r"\b(why|how|plan|strategy|compare|difference|explain|because|however|although|"
    r"perch[eé]|come|piano|strategia|spiega|differenza|tuttavia|anche se)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Route:
    model: str
    complexity: float
    reason: str


def complexity(text: str, history_turns: int) -> float:
    """A cheap 0-1 estimate: longer, multi-part, reasoning-heavy questions score higher."""
    words = len(text.split())
    score = min(words / 120, 0.45)
    score += min(text.count("?"), 3) * 0.08
    score += min(len(COMPLEX_MARKERS.findall(text)), 4) * 0.07
    score += min(history_turns / 20, 0.15)
    return round(min(score, 1.0), 3)


def route(
    settings: LlmSettings, tier: str, text: str, history_turns: int, spent_today: float
) -> Route:
    """Pick the tier's model for this complexity; over budget, the cheapest one."""
    tier_models = settings.tiers.get(tier) or settings.tiers["free"]
    score = complexity(text, history_turns)
    if spent_today >= tier_models.daily_budget_usd:
        return Route(tier_models.models[0], score, "budget_exhausted")
    step = sum(1 for threshold in settings.complexity_steps if score >= threshold)
    index = min(step, len(tier_models.models) - 1)
    return Route(tier_models.models[index], score, f"complexity_step_{step}")
