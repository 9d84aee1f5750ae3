"""Crisis detection: a deterministic English + Italian check, first in every turn.

High recall by design: explicit statements always count, sports idioms only mask
the ambiguous words they explain ("this drill is killing me"), and a negation just
before a statement ("I would never hurt myself") lifts it. It never depends on
retrieval; the provider's moderation may add a crisis, never remove one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from wellcoach.chat.safety.patterns import IDIOMS, NEGATED_STATEMENT, NEGATION, RULES

THRESHOLD = 0.5
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
    """Assess one message: the rules, then (unless they already found a crisis) the
    similarity to labeled exemplars. `language` is a hint only: both are checked."""
    verdict = assess_rules(text, language)
    negated = any(name.startswith("negated:") for name in verdict.matches)
    if verdict.crisis or negated or not semantic or not (text or "").strip():
        # a statement the rules saw negated ("I would never hurt myself") stays negated:
        # similarity cannot tell "never" from "want to"
        return verdict
    from wellcoach.chat.safety.semantic import index

    exemplars = index()
    judged = exemplars.judge(exemplars.embed(text))
    if not judged.crisis:
        return verdict
    score = round(min(0.9, 0.55 + judged.margin), 3)
    return Assessment(True, judged.category, score, (*verdict.matches, "semantic_exemplar"))


def assess_rules(text: str, language: str | None = None) -> Assessment:
    """The deterministic layer alone."""
    normalized = normalize(text or "")
    masked = _mask_idioms(normalized)
    best_score, best_category = 0.0, None
    matches: list[str] = []
    for rule in RULES:
        haystack = normalized if rule.strong else masked
        for match in rule.pattern.finditer(haystack):
            if rule.negatable and NEGATION.search(haystack[: match.start()]):
                matches.append(f"negated:{rule.name}")
                continue
            matches.append(rule.name)
            if rule.score > best_score:
                best_score, best_category = rule.score, rule.category
            break
    if NEGATED_STATEMENT.search(normalized):
        matches.append("negated:statement")
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
