"""Session summaries: what the coach remembers of a session in the next ones.

Two writers. The extractive summary (message count, knowledge-base topics cited, mood
trend, whether a crisis was escalated) is cheap and written inline: every
`SUMMARY_EVERY` messages and when the session ends, so the next session never starts
without one. When a model is configured, a background job (jobs/chat.py) then asks it
for a short narrative of the conversation (the athlete's concerns, what was suggested,
agreed next steps) and stores it in front of the extractive facts; a failed call keeps
the extractive summary and is a ledger row like any other.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.chat import repository
from wellcoach.chat.deps import ChatServices
from wellcoach.config import Settings
from wellcoach.costs import repository as ledger
from wellcoach.costs.ledger import LedgerRow, Usage
from wellcoach.costs.pricing import load_price_table
from wellcoach.crypto import Vault
from wellcoach.llm.providers import GenerationFailed
from wellcoach.models import ChatSession, User
from wellcoach.models.enums import MessageType

log = structlog.get_logger(__name__)

SUMMARY_EVERY = 10
# messages the model reads: the end of a long session matters most for what comes next
TRANSCRIPT_MESSAGES = 30
TRANSCRIPT_CHARS = 6000

INSTRUCTIONS = {
    "en": (
        "You keep the memory of a wellbeing coach for athletes. Summarise the conversation"
        " below in at most three sentences, for the coach to read before the next session:"
        " what the athlete is dealing with, what was suggested, what they agreed to try and"
        " how they felt by the end. Plain sentences in English, no names, no diagnoses, no"
        " quotes."
    ),
    "it": (
        "Tieni la memoria di un coach del benessere per atleti. Riassumi la conversazione"
        " qui sotto in al massimo tre frasi, da leggere prima della prossima sessione: cosa"
        " sta affrontando l'atleta, cosa è stato suggerito, cosa ha deciso di provare e come"
        " si sentiva alla fine. Frasi semplici in italiano, senza nomi, diagnosi o citazioni."
    ),
}


async def extractive_summary(session: AsyncSession, chat_session: ChatSession) -> str:
    """What was discussed (by knowledge-base source), and the mood trend."""
    facts = await repository.summary_facts(
        session, chat_session.user_id, chat_session.id, limit=200, topics=5
    )
    parts = [f"{facts.messages} messages"]
    if facts.topics:
        parts.append("talked about: " + "; ".join(facts.topics))
    if facts.first_mood is not None and facts.last_mood is not None:
        parts.append(f"mood {facts.first_mood}→{facts.last_mood}/10")
    if facts.crisis:
        parts.append("a crisis was escalated to a human coach")
    return ", ".join(parts)


async def refresh_summary(session: AsyncSession, vault: Vault, chat_session: ChatSession) -> None:
    """Store the extractive summary (sealed with the user's key)."""
    text = await extractive_summary(session, chat_session)
    await _store(session, vault, chat_session, text)


def model_summaries_enabled(services: ChatServices) -> bool:
    return services.llm is not None


async def write_model_summary(
    session: AsyncSession, services: ChatServices, user_id: uuid.UUID, session_id: uuid.UUID
) -> tuple[str, str | None]:
    """Ask the model for the session's summary and store it. Returns the outcome and the
    summary stored: `stored` (with the text), `nothing` (no such session, or no
    messages) or `failed` (every model failed: the extractive summary stays, the
    attempts are in the ledger; worth a retry)."""
    provider = services.llm
    chat_session = await session.get(ChatSession, session_id)
    user = await session.get(User, user_id)
    if provider is None or chat_session is None or user is None or chat_session.user_id != user_id:
        return "nothing", None
    transcript = await _transcript(session, services.vault, chat_session)
    if not transcript:
        return "nothing", None
    language = chat_session.language if chat_session.language in INSTRUCTIONS else "en"
    messages = [
        {"role": "system", "content": INSTRUCTIONS[language]},
        {"role": "user", "content": transcript},
    ]
    settings = services.settings
    tier = settings.llm.tiers.get(user.tier.value)
    models = [*(tier.models[:1] if tier else []), settings.llm.fallback_model]
    try:
        generation, failures = await provider.generate_with_fallback(
            messages, models, purpose="session_summary"
        )
    except GenerationFailed as exc:
        for usage in exc.attempts:
            await _record(session, settings, usage, user, session_id)
        log.warning("session_summary_failed", session_id=str(session_id))
        return "failed", None
    for usage in [*failures, generation.usage]:
        await _record(session, settings, usage, user, session_id)
    narrative = " ".join(generation.text.split())
    if not narrative:
        return "failed", None
    summary = f"{narrative} ({await extractive_summary(session, chat_session)})"
    await _store(session, services.vault, chat_session, summary)
    return "stored", summary


async def _transcript(session: AsyncSession, vault: Vault, chat_session: ChatSession) -> str:
    lines: list[str] = []
    for kind, sealed in await repository.transcript(session, chat_session, TRANSCRIPT_MESSAGES):
        text = await vault.open_text(session, chat_session.user_id, sealed, purpose="message")
        lines.append(
            f"{'Coach' if kind == MessageType.ai else 'Athlete'}: {' '.join(text.split())}"
        )
    return "\n".join(lines)[-TRANSCRIPT_CHARS:]


async def _record(
    session: AsyncSession, settings: Settings, usage: Usage, user: User, session_id: uuid.UUID
) -> None:
    row = LedgerRow.of(
        usage,
        load_price_table(settings.costs.prices_file),
        user_id=user.id,
        tier=user.tier.value,
        team=user.team,
        session_id=session_id,
    )
    await ledger.add(session, row)


async def _store(session: AsyncSession, vault: Vault, chat_session: ChatSession, text: str) -> None:
    chat_session.summary_encrypted = await vault.seal_text(
        session, chat_session.user_id, text, purpose="session_summary"
    )
    await session.flush()
