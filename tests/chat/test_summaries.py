"""Session summaries: extractive at the session's end, then written by the model in a
job (the real `openai` client against the loopback OpenAI-compatible server)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from pydantic import SecretStr
from redis import Redis
from sqlalchemy import select

from api.main import create_app
from jobs.chat import SummaryFailed, summarize_session_job
from jobs.queues import DEFAULT
from jobs.queues import queue as job_queue
from tests.support.clients import make_client
from tests.support.factories import PASSWORD, create_user, next_published
from wellcoach.chat.repository import summary_facts
from wellcoach.chat.summaries import extractive_summary
from wellcoach.config import LlmSettings, RagSettings
from wellcoach.db.base import utcnow
from wellcoach.models import ChatSession, LlmCall, Message, MoodEntry
from wellcoach.models.enums import MessageStatus, MessageType

NARRATIVE = (
    "The athlete's heart races before matches; box breathing before serving was suggested"
    " and they agreed to try it in Saturday's match."
)


@pytest.fixture
async def committed(settings, platform, fake_openai, cli_env, monkeypatch):
    """An app with the model configured that commits for real (the job reads committed
    data from its own connection), and the same configuration for jobs."""
    fake_openai.reset()
    for name, value in {
        "WELLCOACH_OPENAI_BASE_URL": fake_openai.base_url,
        "WELLCOACH_OPENAI_API_KEY": "sk-test",
        "WELLCOACH_LLM__PROVIDER": "openai",
        "WELLCOACH_LLM__MAX_RETRIES": "0",
        "WELLCOACH_LLM__MODERATION": "false",
        "WELLCOACH_RAG__EMBEDDER": "use",
    }.items():
        monkeypatch.setenv(name, value)
    configured = settings.model_copy(
        update={
            "openai_base_url": fake_openai.base_url,
            "openai_api_key": SecretStr("sk-test"),
            "llm": LlmSettings(provider="openai", max_retries=0, moderation=False),
            "rag": RagSettings(embedder="use"),
        }
    )
    async with make_client(create_app(configured, platform.with_settings(configured))) as http:
        yield http


async def _conversation(http, platform) -> tuple[str, dict, str]:
    async with platform.unit_of_work() as session:
        user = await create_user(session, platform, sport="tennis")
        user_id, email = user.id, user.email
    login = await http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    session_id = (await http.post("/v1/chat/sessions", headers=headers)).json()["id"]
    for text in ("my heart races before my matches", "what can I do before serving?"):
        sent = await http.post(
            f"/v1/chat/sessions/{session_id}/messages", json={"content": text}, headers=headers
        )
        assert sent.status_code == 200, sent.text
    return str(user_id), headers, session_id


async def _summary_of(platform, session_id: str) -> str:
    async with platform.unit_of_work() as session:
        chat = await session.get(ChatSession, uuid.UUID(session_id))
        return await platform.vault.open_text(
            session, chat.user_id, chat.summary_encrypted, purpose="session_summary"
        )


async def test_ending_a_session_queues_a_model_summary_the_next_session_remembers(
    committed, platform, fake_openai, services
):
    user_id, headers, session_id = await _conversation(committed, platform)
    ended = await committed.post(f"/v1/chat/sessions/{session_id}/end", headers=headers)
    assert ended.status_code == 200
    assert ended.json()["summary"].startswith("4 messages")  # extractive, at once
    queue = job_queue(DEFAULT, Redis.from_url(services.redis_url))
    job = queue.fetch_job(f"summary-{session_id}")
    assert job is not None and list(job.args) == [user_id, session_id]  # JSON: a list
    again = await committed.post(f"/v1/chat/sessions/{session_id}/end", headers=headers)
    assert again.status_code == 200  # ending twice queues nothing more
    assert queue.job_ids.count(f"summary-{session_id}") == 1

    fake_openai.set_reply(NARRATIVE)
    pubsub = platform.redis.pubsub()
    await pubsub.subscribe("socketio")  # python-socketio's Redis manager channel
    outcome = await asyncio.to_thread(summarize_session_job, user_id, session_id)
    assert outcome == "stored"
    published = await next_published(pubsub)
    assert published is not None and b"session_summary" in published  # pushed to devices
    assert NARRATIVE.encode() in published
    request = fake_openai.requests_for("chat/completions")[-1]
    assert "Summarise the conversation" in request.messages[0]["content"]
    transcript = request.messages[1]["content"]
    assert transcript.splitlines()[0] == "Athlete: my heart races before my matches"
    assert "Coach: " in transcript and "Athlete: what can I do before serving?" in transcript

    summary = await _summary_of(platform, session_id)
    assert summary.startswith(NARRATIVE) and "(4 messages" in summary
    async with platform.unit_of_work() as session:
        rows = (
            await session.scalars(
                select(LlmCall).where(
                    LlmCall.session_id == session_id, LlmCall.purpose == "session_summary"
                )
            )
        ).all()
    assert [(row.status, row.model) for row in rows] == [("ok", "gpt-4o-mini")]
    assert rows[0].tokens_in > 0 and rows[0].cost_usd > 0

    fake_openai.set_reply(None)
    second = (await committed.post("/v1/chat/sessions", headers=headers)).json()["id"]
    await committed.post(
        f"/v1/chat/sessions/{second}/messages", json={"content": "hi again"}, headers=headers
    )
    system = fake_openai.requests_for("chat/completions")[-1].messages[0]["content"]
    assert "Earlier sessions: " + NARRATIVE in system


async def test_a_failed_model_summary_keeps_the_extractive_one_and_retries(
    committed, platform, fake_openai
):
    user_id, headers, session_id = await _conversation(committed, platform)
    await committed.post(f"/v1/chat/sessions/{session_id}/end", headers=headers)
    before = await _summary_of(platform, session_id)
    fake_openai.fail_next(10, status=500)
    with pytest.raises(SummaryFailed):  # RQ retries the job later
        await asyncio.to_thread(summarize_session_job, user_id, session_id)
    assert await _summary_of(platform, session_id) == before
    async with platform.unit_of_work() as session:
        statuses = (
            await session.scalars(
                select(LlmCall.status).where(
                    LlmCall.session_id == session_id, LlmCall.purpose == "session_summary"
                )
            )
        ).all()
    assert statuses and set(statuses) == {"error"}  # the attempts are in the ledger


async def test_the_extractive_summary_reads_topics_crisis_and_mood_from_the_last_messages(
    db_session, platform
):
    """Topics in the order they were first cited (each once, at most five), the crisis
    flag and the mood trend, over the session's last `limit` messages only."""
    user = await create_user(db_session, platform)
    chat = ChatSession(user_id=user.id)
    db_session.add(chat)
    await db_session.flush()
    start = utcnow() - timedelta(minutes=30)

    def cite(*titles: str) -> list[dict[str, str]]:
        return [{"document_id": t.lower(), "title": t, "citation": t} for t in titles]

    metadata = [
        {"citations": cite("Old topic")},  # falls out of the last 6
        {},
        {"citations": cite("Sleep", "Breathing")},
        {},
        {"citations": cite("Breathing", "Focus"), "crisis": False},
        {"citations": "not a list"},
        {"citations": cite("Goals", "Nerves", "Recovery", "Sleep")},
    ]
    for i, meta in enumerate(metadata):
        db_session.add(
            Message(
                created_at=start + timedelta(minutes=i),
                session_id=chat.id,
                user_id=user.id,
                type=MessageType.ai if meta else MessageType.user,
                status=MessageStatus.sent,
                content_encrypted=b"sealed",
                metadata_=meta,
            )
        )
    for minute, mood in ((1, None), (2, 3), (4, 5), (6, 7), (8, None)):
        db_session.add(
            MoodEntry(
                user_id=user.id,
                session_id=chat.id,
                mood=mood,
                created_at=start + timedelta(minutes=minute),
            )
        )
    await db_session.flush()

    facts = await summary_facts(db_session, user.id, chat.id, limit=6, topics=5)
    assert facts.messages == 6
    assert facts.topics == ["Sleep", "Breathing", "Focus", "Goals", "Nerves"]
    assert (facts.crisis, facts.first_mood, facts.last_mood) == (False, 3, 7)
    assert await extractive_summary(db_session, chat) == (
        "7 messages, talked about: Old topic; Sleep; Breathing; Focus; Goals, mood 3→7/10"
    )

    db_session.add(
        Message(
            created_at=start + timedelta(minutes=10),
            session_id=chat.id,
            user_id=user.id,
            type=MessageType.ai,
            status=MessageStatus.sent,
            content_encrypted=b"sealed",
            metadata_={"crisis": True, "citations": []},
        )
    )
    await db_session.flush()
    assert (await summary_facts(db_session, user.id, chat.id, limit=6, topics=5)).crisis
