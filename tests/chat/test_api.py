"""Chat over REST with the offline provider: sessions, turns, safety, cache, IDOR."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.support.factories import bearer, create_user, login
from tests.support.realtime import committed_user, connect, new_session, tokens
from wellcoach.models import AuditLog, Escalation, LlmCall, Message
from wellcoach.models.enums import Urgency


async def athlete(client, db_session, platform, **fields):
    user = await create_user(db_session, platform, **fields)
    return user, bearer(await login(client, user.email))


async def test_unverified_users_cannot_chat(client, db_session, platform):
    user, headers = await athlete(client, db_session, platform, verified=False)
    response = await client.post("/v1/chat/sessions", headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "email_not_verified"
    assert (await client.get("/v1/chat/sessions", headers=headers)).status_code == 403


async def test_a_conversation_over_rest(client, db_session, platform, kb):
    user, headers = await athlete(client, db_session, platform, sport="tennis")
    started = await client.post("/v1/chat/sessions", headers=headers)
    assert started.status_code == 201
    session_id = started.json()["id"]

    turn = await client.post(
        f"/v1/chat/sessions/{session_id}/messages",
        json={"content": "my heart is pounding before matches, how do I calm down?"},
        headers=headers,
    )
    assert turn.status_code == 200, turn.text
    body = turn.json()
    assert body["user_message"]["type"] == "user"
    assert body["user_message"]["status"] == "delivered"
    reply = body["reply"]
    assert reply["type"] == "ai" and reply["reply_to"] == body["user_message"]["id"]
    assert "Sources:" in reply["content"] and "[1]" in reply["content"]
    assert "tennis" in reply["content"]  # adapted to the sport
    meta = reply["metadata"]
    assert meta["model_used"] == "offline-composer"
    assert meta["citations"][0]["document_id"] == "box-breathing-en"
    assert meta["processing_time"] > 0 and "retrieval" in meta["steps_ms"]
    assert body["crisis"] is False

    raw = await db_session.scalar(
        select(Message.content_encrypted).where(Message.id == body["user_message"]["id"])
    )
    assert b"pounding" not in raw  # sealed with the user's key

    mood = await client.post(
        f"/v1/chat/sessions/{session_id}/mood", json={"mood": 4, "stress": 8}, headers=headers
    )
    assert mood.status_code == 201
    await client.post(f"/v1/chat/sessions/{session_id}/mood", json={"mood": 6}, headers=headers)
    second = await client.post(
        f"/v1/chat/sessions/{session_id}/messages",
        json={"content": "and what about sleeping the night before?"},
        headers=headers,
    )
    assert "Sleep" in second.json()["reply"]["content"]  # a different question, a different answer

    detail = (await client.get(f"/v1/chat/sessions/{session_id}?limit=3", headers=headers)).json()
    assert detail["message_count"] == 4
    assert [m["type"] for m in detail["messages"]] == ["ai", "user", "ai"]  # newest first
    assert detail["next_before"] is not None
    older = await client.get(
        f"/v1/chat/sessions/{session_id}", params={"before": detail["next_before"]}, headers=headers
    )
    assert [m["type"] for m in older.json()["messages"]] == ["user"]
    assert [m["mood"] for m in detail["mood_progression"]] == [4, 6]
    assert detail["context"]["current_mood"] == 6

    ended = (await client.post(f"/v1/chat/sessions/{session_id}/end", headers=headers)).json()
    assert (
        ended["ended_at"] and "Box Breathing" in ended["summary"] and "mood 4→6" in ended["summary"]
    )
    closed = await client.post(
        f"/v1/chat/sessions/{session_id}/messages", json={"content": "hello again"}, headers=headers
    )
    assert closed.status_code == 409
    listed = (await client.get("/v1/chat/sessions", headers=headers)).json()
    assert listed[0]["id"] == session_id


async def test_italian_user_gets_an_italian_reply(client, db_session, platform, kb):
    user, headers = await athlete(client, db_session, platform, language="it")
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    reply = (
        await client.post(
            f"/v1/chat/sessions/{session_id}/messages",
            json={"content": "ho il cuore a mille prima della partita, come mi calmo?"},
            headers=headers,
        )
    ).json()["reply"]
    assert "Fonti:" in reply["content"]
    assert reply["metadata"]["citations"][0]["document_id"] == "box-breathing-it"


async def test_a_crisis_message_gets_resources_and_exactly_one_critical_escalation(
    client, db_session, platform, kb
):
    user, headers = await athlete(client, db_session, platform)
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    body = {"content": "I can't do this anymore, I want to kill myself", "client_message_id": "m-1"}
    first = await client.post(
        f"/v1/chat/sessions/{session_id}/messages", json=body, headers=headers
    )
    assert first.status_code == 200
    turn = first.json()
    assert turn["crisis"] is True
    assert "112" in turn["reply"]["content"]
    again = await client.post(
        f"/v1/chat/sessions/{session_id}/messages", json=body, headers=headers
    )
    assert again.json()["user_message"]["id"] == turn["user_message"]["id"]  # same message
    escalations = list(
        await db_session.scalars(select(Escalation).where(Escalation.user_id == user.id))
    )
    assert len(escalations) == 1
    assert escalations[0].urgency == Urgency.critical
    assert escalations[0].response_time_sla == "1h"
    assert b"kill myself" not in escalations[0].message_encrypted
    audit = await db_session.scalar(
        select(AuditLog).where(
            AuditLog.user_id == user.id, AuditLog.action == "chat.crisis_detected"
        )
    )
    assert audit is not None and "kill" not in json.dumps(audit.details)
    keys = await platform.redis.keys("wellcoach:response-cache:*")
    assert keys == []  # crisis turns are never cached


async def test_an_idiom_is_not_a_crisis(client, db_session, platform, kb):
    user, headers = await athlete(client, db_session, platform)
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    turn = (
        await client.post(
            f"/v1/chat/sessions/{session_id}/messages",
            json={"content": "this drill is killing me lol"},
            headers=headers,
        )
    ).json()
    assert turn["crisis"] is False
    count = await db_session.scalar(
        select(func.count()).select_from(Escalation).where(Escalation.user_id == user.id)
    )
    assert count == 0


async def test_asking_for_a_human_opens_an_escalation(client, db_session, platform, kb):
    user, headers = await athlete(client, db_session, platform)
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    turn = (
        await client.post(
            f"/v1/chat/sessions/{session_id}/messages",
            json={"content": "can I talk to a real person please"},
            headers=headers,
        )
    ).json()
    assert "human coach" in turn["reply"]["content"]
    escalation = await db_session.scalar(select(Escalation).where(Escalation.user_id == user.id))
    assert escalation.urgency == Urgency.medium


async def test_generic_first_turns_are_cached_for_everyone_personal_ones_are_not(
    client, db_session, platform, kb
):
    question = {"content": "How do I calm my nerves before a competition?"}
    first_user, first = await athlete(client, db_session, platform)
    s1 = (await client.post("/v1/chat/sessions", headers=first)).json()["id"]
    a = (await client.post(f"/v1/chat/sessions/{s1}/messages", json=question, headers=first)).json()
    second_user, second = await athlete(client, db_session, platform)
    s2 = (await client.post("/v1/chat/sessions", headers=second)).json()["id"]
    b = (
        await client.post(f"/v1/chat/sessions/{s2}/messages", json=question, headers=second)
    ).json()

    assert a["reply"]["metadata"]["cache_hit"] is False
    assert b["reply"]["metadata"]["cache_hit"] is True
    assert b["reply"]["content"] == a["reply"]["content"]
    hit = await db_session.scalar(
        select(LlmCall).where(LlmCall.user_id == second_user.id, LlmCall.cache_hit.is_(True))
    )
    assert hit is not None and hit.purpose == "chat"
    # with history in the prompt the answer is personal: never served from the cache
    follow = (
        await client.post(f"/v1/chat/sessions/{s2}/messages", json=question, headers=second)
    ).json()
    assert follow["reply"]["metadata"]["cache_hit"] is False


async def test_others_sessions_are_invisible(client, db_session, platform, kb):
    _, owner = await athlete(client, db_session, platform)
    _, intruder = await athlete(client, db_session, platform)
    session_id = (await client.post("/v1/chat/sessions", headers=owner)).json()["id"]
    for method, url, body in [
        ("GET", f"/v1/chat/sessions/{session_id}", None),
        ("POST", f"/v1/chat/sessions/{session_id}/messages", {"content": "hi"}),
        ("POST", f"/v1/chat/sessions/{session_id}/end", None),
        ("POST", f"/v1/chat/sessions/{session_id}/mood", {"mood": 5}),
    ]:
        response = await client.request(method, url, json=body, headers=intruder)
        assert response.status_code == 404, url
    assert (await client.get("/v1/chat/sessions", headers=intruder)).json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"content": ""},
        {"content": "   "},
        {"content": "x" * 4001},
        {"text": "hi"},
        {"content": "hi", "mode": "later"},
    ],
)
async def test_bad_messages_get_a_validation_error(client, db_session, platform, body):
    _, headers = await athlete(client, db_session, platform)
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    response = await client.post(
        f"/v1/chat/sessions/{session_id}/messages", json=body, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_bad_mood_values(client, db_session, platform):
    _, headers = await athlete(client, db_session, platform)
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    for body, code in [({"mood": 11}, 422), ({"mood": 0}, 422), ({}, 400)]:
        response = await client.post(
            f"/v1/chat/sessions/{session_id}/mood", json=body, headers=headers
        )
        assert response.status_code == code, body


@pytest.mark.parametrize("content", ["\u001f", "\u200b", " \ufeff\u2060 ", "\u2800", "\n\t"])
async def test_a_message_with_nothing_visible_is_refused(client, db_session, platform, content):
    """Once cleaned it would be empty and every answer would fail ("the search query is
    empty"): refused at the edge instead, and nothing is stored."""
    user, headers = await athlete(client, db_session, platform)
    chat = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    response = await client.post(
        f"/v1/chat/sessions/{chat}/messages", headers=headers, json={"content": content}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["loc"] == ["body", "content"]
    stored = await db_session.scalar(
        select(func.count()).select_from(Message).where(Message.session_id == chat)
    )
    assert stored == 0


async def test_visible_text_wrapped_in_invisible_characters_is_answered(
    client, db_session, platform, kb
):
    user, headers = await athlete(client, db_session, platform)
    chat = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    response = await client.post(
        f"/v1/chat/sessions/{chat}/messages",
        headers=headers,
        json={"content": "\u200b\ufeffHow do I calm my nerves before a match?\u200b"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["reply"]["content"]


async def test_socket_messages_follow_the_same_rules(live_server, platform):
    """`send_message` over Socket.IO validates with the REST model: nothing visible, or a
    NUL byte anywhere, is a `validation_error` ack."""
    _, email = await committed_user(platform)
    access = (await tokens(live_server, email))["access_token"]
    session_id = await new_session(live_server, access)
    client = await connect(live_server, access)
    try:
        for event in (
            {"content": "\u200b\ufeff"},
            {"content": "\u2800"},
            {"content": "hi", "client_message_id": "id\u0000"},
        ):
            ack = await client.call(
                "send_message", {"session_id": session_id, **event}, namespace="/chat", timeout=10
            )
            assert ack["error"]["code"] == "validation_error", ack
    finally:
        await client.disconnect()
