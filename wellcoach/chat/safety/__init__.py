"""Crisis detection: a deterministic English + Italian check, first in every turn.

Two layers. The rules (patterns.py) count explicit statements; sports idioms mask the
ambiguous words they explain ("this drill is killing me"), a negation just before a
statement ("I would never hurt myself") or a recovered past ("two years clean") lifts
it (context.py). Messages the rules pass go to a small classifier on the offline
multilingual embedding (semantic.py), which only adds crises, never removes one.
It never depends on retrieval; the provider's moderation may add a crisis, never
remove one. bench/crisis_bench.py measures both layers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wellcoach.chat.safety.context import (
    IDIOMS,
    NEGATED_STATEMENT,
    NEGATION,
    distant,
    recovered,
)
from wellcoach.chat.safety.patterns import MEDICAL, RULES

if TYPE_CHECKING:
    import numpy as np

THRESHOLD = 0.5
IDIOM_MATCH = "masked:idiom"
EMERGENCY_CATEGORIES = (
    "suicidal_ideation",
    "self_harm",
    "overdose",
    "medical_emergency",
    "abuse",
    "harm_to_others",
)


@dataclass(frozen=True)
class Assessment:
    crisis: bool
    category: str | None
    score: float
    matches: tuple[str, ...] = ()


def normalize(text: str) -> str:
    """Casefold, strip accents and apostrophes, squeeze repeated letters and spaces."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[’'`´]", "", text)
    text = re.sub(r"[^\w\s]", " ", text)
    text = re.sub(r"(\w)\1{2,}", r"\1", text)  # "liveeee" -> "live"; real doubles stay
    return re.sub(r"\s+", " ", text).strip()


def _mask_idioms(text: str) -> str:
    for idiom in IDIOMS:
        text = idiom.sub(lambda m: " " * len(m.group(0)), text)
    return text


def assess(text: str, language: str | None = None, *, semantic: bool = True) -> Assessment:
    """Assess one message: the rules, then (unless they already decided) the classifier
    on its embedding. `language` is a hint only: both languages are checked."""
    verdict = assess_rules(text, language)
    if not semantic or not (text or "").strip() or settled(verdict):
        return verdict
    from wellcoach.chat.safety.semantic import layer

    classifier = layer()
    return combine(verdict, classifier.probabilities(classifier.embed(text)))


def settled(verdict: Assessment) -> bool:
    """Whether the rules alone decide: a crisis they found, or a statement they saw
    negated or told as past ("I would never hurt myself", "two years clean"), which
    similarity cannot tell from "want to"."""
    return verdict.crisis or any(name.startswith("negated:") for name in verdict.matches)


def combine(
    verdict: Assessment, probabilities: np.ndarray, threshold: float | None = None
) -> Assessment:
    """The rules' verdict plus the classifier's class probabilities for the message
    (`threshold` overrides the classifier's, for cross-validation)."""
    from wellcoach.chat.safety.semantic import THRESHOLD, decide

    if settled(verdict):
        return verdict
    judged = decide(
        probabilities,
        idiom=IDIOM_MATCH in verdict.matches,
        threshold=THRESHOLD if threshold is None else threshold,
    )
    if not judged.crisis:
        return verdict
    return Assessment(
        True, judged.category, judged.score, (*verdict.matches, "semantic_classifier")
    )


def assess_rules(text: str, language: str | None = None) -> Assessment:
    """The deterministic layer alone."""
    normalized = normalize(text or "")
    masked = _mask_idioms(normalized)
    past = recovered(normalized)
    best_score, best_category = 0.0, None
    matches: list[str] = []
    for rule in RULES:
        haystack = normalized if rule.strong else masked
        for match in rule.pattern.finditer(haystack):
            if rule.negatable and NEGATION.search(haystack[: match.start()]):
                matches.append(f"negated:{rule.name}")
                continue
            if past:
                matches.append(f"negated:past:{rule.name}")
                continue
            if rule.category == MEDICAL and distant(haystack, match.start(), match.end()):
                matches.append(f"past:{rule.name}")
                continue
            matches.append(rule.name)
            if rule.score > best_score:
                best_score, best_category = rule.score, rule.category
            break
    if NEGATED_STATEMENT.search(normalized):
        matches.append("negated:statement")
    if past:
        matches.append("negated:past")
    if masked != normalized:
        matches.append(IDIOM_MATCH)
    crisis = best_score >= THRESHOLD
    return Assessment(
        crisis, best_category if crisis else None, round(best_score, 3), tuple(matches)
    )


def explain(assessment: Assessment) -> str:
    if not assessment.crisis:
        return "no crisis signal"
    return (
        f"{assessment.category} (score {assessment.score}; rules: {', '.join(assessment.matches)})"
    )
