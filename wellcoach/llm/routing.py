"""Model routing: query complexity × the user's tier × what is left of the budgets.

Deterministic: the same text, history length, tier and spend always give the same route.
Under every budget, the complexity score picks one of the tier's models (cheapest
first). Over a budget (`wellcoach.costs.budgets.pressure`) routing degrades instead of
failing: the tier's cheapest model, then the offline composer. A crisis turn is never
sent to the offline composer by a budget (its reviewed crisis reply is used only when no
model answers): safety before cost; it does get the cheapest model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from wellcoach.config import CostSettings, LlmSettings, TierModels
from wellcoach.costs.budgets import Spend, pressure

COMPLEX_MARKERS = re.compile(
    r"\b(why|how|plan|strategy|compare|difference|explain|because|however|although|"
    r"perch[eé]|come|piano|strategia|spiega|differenza|tuttavia|anche se)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Route:
    model: str  # the tier's model to ask (unused when `offline`)
    complexity: float
    reason: str
    top_model: str  # the tier's best model: what answers without routing or budgets
    offline: bool = False  # a budget says: the offline composer answers

    @property
    def degraded_from(self) -> str | None:
        """The model that would have answered without routing and budgets, when another
        one (or the offline composer) answers: the ledger's `routed_from`."""
        return self.top_model if self.offline or self.model != self.top_model else None


def complexity(text: str, history_turns: int) -> float:
    """A cheap 0-1 estimate: longer, multi-part, reasoning-heavy questions score higher."""
    words = len(text.split())
    score = min(words / 120, 0.45)
    score += min(text.count("?"), 3) * 0.08
    score += min(len(COMPLEX_MARKERS.findall(text)), 4) * 0.07
    score += min(history_turns / 20, 0.15)
    return round(min(score, 1.0), 3)


def tier_models(settings: LlmSettings, tier: str) -> TierModels:
    return settings.tiers.get(tier) or settings.tiers["free"]


def route(
    settings: LlmSettings,
    costs: CostSettings,
    tier: str,
    text: str,
    history_turns: int,
    spend: Spend,
    *,
    crisis: bool = False,
) -> Route:
    """The tier's model for this complexity, degraded by the budget under most pressure."""
    models = tier_models(settings, tier)
    score = complexity(text, history_turns)
    top = models.models[-1]
    budget = pressure(costs, tier, spend, Decimal(str(models.daily_budget_usd)))
    if budget.level == "offline" and not crisis:
        return Route(models.models[0], score, f"budget_{budget.budget}_offline", top, True)
    if budget.level != "normal":
        return Route(models.models[0], score, f"budget_{budget.budget}_cheapest", top)
    step = sum(1 for threshold in settings.complexity_steps if score >= threshold)
    index = min(step, len(models.models) - 1)
    return Route(models.models[index], score, f"complexity_step_{step}", top)
