"""The prompt framework of SPEC.md: base, crisis and motivational modes, with the
user's personality, language and sport, and the retrieved passages as numbered sources."""

from __future__ import annotations

from wellcoach.config import EmergencyResource
from wellcoach.costs.ledger import estimate_tokens
from wellcoach.rag.retrieval import Passage

BASE = """You are an AI wellbeing coach specialised in supporting athletes and sports teams.
Your responses are empathetic, supportive and grounded in sports psychology.

Guidelines:
- Always validate the user's feelings first.
- Give 2-3 actionable, sport-specific steps, citing the numbered sources like [1].
- Know when to suggest a human coach, and offer it.
- Keep professional boundaries. Never diagnose; never recommend medication or doses.
- Answer in {language_name}. Personality: {personality}.

User sport: {sport}. Recent mood: {mood}/10.
{context}"""

CRISIS = """CRISIS MODE. The user may be in danger. Prioritise, in this order:
1. Immediate safety and support, in a calm, warm voice.
2. Every contact below, exactly as written: the emergency number and the crisis line
   (or helpline directory) of the user's country, both.
3. Tell them a human coach has been asked to reach out now.
4. No medical or psychological advice; ask whether they are safe right now.
Answer in {language_name}.

Emergency contacts:
{emergency_contacts}"""

MOTIVATIONAL = """MOTIVATIONAL MODE. The user needs encouragement: highlight past effort,
break the goal into the next small step, use sport-specific motivation, build confidence."""

PERSONALITIES = {
    "empathetic": "warm and validating, gentle pace",
    "motivational": "energetic and encouraging, action-oriented",
    "analytical": "structured and precise, explains the why behind each step",
}
LANGUAGES = {"en": "English", "it": "Italian"}


def sources_block(passages: list[Passage]) -> str:
    return "\n\n".join(
        f"[{index}] {p.title} — {p.heading or ''}\n{p.content}"
        for index, p in enumerate(passages, 1)
    )


def build_messages(
    *,
    text: str,
    language: str,
    personality: str,
    sport: str | None,
    mood: int | None,
    context_lines: list[str],
    history: list[tuple[str, str]],
    passages: list[Passage],
    crisis: bool,
    resources: list[EmergencyResource],
    motivational: bool,
    token_budget: int,
) -> list[dict[str, str]]:
    """System prompt, sources, then as much recent history as the token budget allows."""
    language_name = LANGUAGES.get(language, "English")
    if crisis:
        contacts = "\n".join(r.line() for r in resources)
        system = CRISIS.format(language_name=language_name, emergency_contacts=contacts)
    else:
        system = BASE.format(
            language_name=language_name,
            personality=PERSONALITIES.get(personality, PERSONALITIES["empathetic"]),
            sport=sport or "not given",
            mood=mood if mood is not None else "unknown",
            context="\n".join(context_lines),
        )
        if motivational:
            system += "\n\n" + MOTIVATIONAL
    messages = [{"role": "system", "content": system}]
    if passages:
        messages.append({"role": "system", "content": "Sources:\n\n" + sources_block(passages)})
    used = estimate_tokens([m["content"] for m in messages]) + estimate_tokens([text])
    kept: list[dict[str, str]] = []
    for role, content in reversed(history):  # newest first, until the budget is spent
        cost = estimate_tokens([content])
        if used + cost > token_budget:
            break
        kept.append({"role": role, "content": content})
        used += cost
    messages.extend(reversed(kept))
    messages.append({"role": "user", "content": text})
    return messages
