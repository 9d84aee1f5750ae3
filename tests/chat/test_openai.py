"""Chat through the real `openai` client against an OpenAI-compatible server on loopback:
streaming, timeouts, 5xx → fallback model → offline composer, ledger rows, summaries."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import select

from tests.support.factories import bearer, create_user, login
from wellcoach.config import LlmSettings
from wellcoach.models import LlmCall


async def start(client, db_session, platform, **fields):
    user = await create_user(db_session, platform, **fields)
    headers = bearer(await login(client, user.email))
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    return user, headers, session_id


async def say(client, headers, session_id, content):
    response = await client.post(
        f"/v1/chat/sessions/{session_id}/messages", json={"content": content}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_reply_comes_from_the_model_with_sources_in_the_prompt(
    openai_client,
    db_session,
    platform,
    fake_openai,
    kb,
):
    user, headers, session_id = await start(openai_client, db_session, platform, sport="tennis")
    turn = await say(openai_client, headers, session_id, "my heart races before my matches")
    reply = turn["reply"]
    assert reply["metadata"]["provider"] == "openai"
    assert reply["metadata"]["model_used"] == "gpt-4o-mini"
    chat = fake_openai.requests_for("chat/completions")[-1]
    assert chat.stream is True
    assert chat.authorization == "Bearer sk-test"
    system = " ".join(m["content"] for m in chat.messages if m["role"] == "system")
    assert "Box Breathing" in system and "User sport: tennis" in system
    assert chat.messages[-1] == {"role": "user", "content": "my heart races before my matches"}
    row = await db_session.scalar(
        select(LlmCall).where(LlmCall.user_id == user.id, LlmCall.purpose == "chat")
    )
    assert row.provider == "openai" and row.tokens_out > 0 and row.cost_usd > 0


async def test_a_failing_model_falls_back_then_offline(
    openai_client,
    db_session,
    platform,
    fake_openai,
    kb,
):
    user, headers, session_id = await start(openai_client, db_session, platform, tier="team")
    fake_openai.fail_model("gpt-4.1", status=500)  # the model routing picks for this question
    long_question = (
        "Why do I freeze in the last minutes of close games, how can I plan a "
        "routine, and how does breathing compare with self-talk? " * 3
    )
    turn = await say(openai_client, headers, session_id, long_question)
    assert turn["reply"]["metadata"]["provider"] == "openai"
    assert turn["reply"]["metadata"]["model_used"] == "gpt-4o-mini"  # the fallback model
    assert fake_openai.requests_for("chat/completions", model="gpt-4.1")

    fake_openai.fail_model("gpt-4o-mini", status=503)
    offline = await say(openai_client, headers, session_id, "how do I calm down before games?")
    assert offline["reply"]["metadata"]["provider"] == "offline"
    assert "Sources:" in offline["reply"]["content"]
    errors = list(
        await db_session.scalars(
            select(LlmCall).where(LlmCall.user_id == user.id, LlmCall.status == "error")
        )
    )
    assert {row.error_code for row in errors} >= {"InternalServerError"}


async def test_a_hanging_model_times_out_and_the_fallback_answers(
    openai_client,
    db_session,
    platform,
    fake_openai,
    kb,
):
    _, headers, session_id = await start(openai_client, db_session, platform)
    fake_openai.hang_next(5, model="gpt-4o-mini", endpoint="chat/completions")
    turn = await say(openai_client, headers, session_id, "how do I sleep before a race?")
    # free tier: the fallback model is the same one, so the offline composer answers
    assert turn["reply"]["metadata"]["provider"] in ("openai", "offline")
    assert turn["reply"]["content"]


async def test_crisis_prompt_and_resources_with_a_model(
    openai_client,
    db_session,
    platform,
    fake_openai,
    kb,
):
    _, headers, session_id = await start(openai_client, db_session, platform)
    turn = await say(openai_client, headers, session_id, "i want to end my life tonight")
    assert turn["crisis"] is True
    system = fake_openai.requests_for("chat/completions")[-1].messages[0]["content"]
    assert system.startswith("CRISIS MODE")
    assert "112" in turn["reply"]["content"]  # resources appended whatever the model wrote


async def test_previous_session_summaries_reach_the_next_prompt(
    openai_client,
    db_session,
    platform,
    fake_openai,
    kb,
):
    _, headers, first = await start(openai_client, db_session, platform)
    await say(openai_client, headers, first, "my heart races before my matches")
    await openai_client.post(f"/v1/chat/sessions/{first}/end", headers=headers)
    second = (await openai_client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    await say(openai_client, headers, second, "hi again, how do I prepare for tomorrow?")
    system = fake_openai.requests_for("chat/completions")[-1].messages[0]["content"]
    assert "Earlier sessions:" in system and "Box Breathing" in system


async def test_a_stream_that_breaks_midway_is_reset_and_restarted_on_the_fallback(
    settings, fake_openai
):
    from wellcoach.llm.providers import OpenAIProvider

    fake_openai.reset()
    configured = settings.model_copy(
        update={
            "openai_base_url": fake_openai.base_url,
            "openai_api_key": SecretStr("k"),
            "llm": LlmSettings(provider="openai", max_retries=0),
        }
    )
    provider = OpenAIProvider(configured)
    fake_openai.fail_next(1, status=500, model="gpt-4.1", after_tokens=3)
    events: list[str] = []

    async def on_token(token: str) -> None:
        events.append("token")

    async def on_restart() -> None:
        events.append("reset")

    generation, failures = await provider.generate_with_fallback(
        [{"role": "user", "content": "hello there coach"}],
        ["gpt-4.1", "gpt-4o-mini"],
        purpose="chat",
        on_token=on_token,
        on_restart=on_restart,
    )
    assert events[:3] == ["token"] * 3 and "reset" in events
    assert events.index("reset") == 3 and events[-1] == "token"
    assert generation.usage.model == "gpt-4o-mini" and "[gpt-4o-mini]" in generation.text
    assert [f.model for f in failures] == ["gpt-4.1"]


async def test_a_crisis_only_moderation_sees_redoes_the_turn_as_a_crisis(
    openai_client,
    db_session,
    platform,
    fake_openai,
    kb,
):
    """Moderation answers while the reply is being generated: its crisis still wins."""
    from wellcoach.chat.safety import assess
    from wellcoach.models import Escalation
    from wellcoach.models.enums import Urgency

    text = "lately I keep thinking about the blue lagoon"
    assert not assess(text, "en").crisis  # only moderation sees it
    user, headers, session_id = await start(openai_client, db_session, platform)
    rules = fake_openai.moderation_rules
    fake_openai.moderation_rules = {"self-harm": ("blue lagoon",)}
    try:
        turn = await say(openai_client, headers, session_id, text)
    finally:
        fake_openai.moderation_rules = rules
    assert turn["crisis"] is True
    assert fake_openai.requests_for("moderations")
    last = fake_openai.requests_for("chat/completions")[-1]
    assert last.messages[0]["content"].startswith("CRISIS MODE")
    assert "112" in turn["reply"]["content"]
    escalations = list(
        await db_session.scalars(select(Escalation).where(Escalation.user_id == user.id))
    )
    assert [e.urgency for e in escalations] == [Urgency.critical]
    rows = list(
        await db_session.scalars(
            select(LlmCall).where(LlmCall.user_id == user.id, LlmCall.purpose == "chat")
        )
    )
    assert len(rows) >= 2  # the dropped reply (answered or cancelled) and the crisis one
    assert await platform.redis.keys("wellcoach:response-cache:*") == []


async def test_moderation_runs_alongside_the_turn_and_a_clean_verdict_changes_nothing(
    openai_client,
    db_session,
    platform,
    fake_openai,
    kb,
):
    user, headers, session_id = await start(openai_client, db_session, platform)
    turn = await say(openai_client, headers, session_id, "how do I sleep before a race?")
    assert turn["crisis"] is False and turn["reply"]["metadata"]["provider"] == "openai"
    assert len(fake_openai.requests_for("moderations")) == 1
    assert len(fake_openai.requests_for("chat/completions")) == 1
    rows = list(
        await db_session.scalars(
            select(LlmCall).where(LlmCall.user_id == user.id, LlmCall.purpose == "chat")
        )
    )
    assert [(r.provider, r.status) for r in rows] == [("openai", "ok")]
