"""A conversation over Socket.IO with the real python-socketio client against uvicorn."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import socketio
from pydantic import SecretStr
from sqlalchemy import select, update

from tests.support.realtime import Recorder, committed_user, connect, new_session, send, tokens
from tests.support.services import running_app
from wellcoach.config import LlmSettings
from wellcoach.db.base import utcnow
from wellcoach.models import Message, User
from wellcoach.models.enums import MessageStatus


async def test_connections_need_a_valid_token_of_a_verified_user(live_server, platform):
    for token in (None, "not-a-token"):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await connect(live_server, token)
    _, email = await committed_user(platform, verified=False)
    unverified = (await tokens(live_server, email))["access_token"]
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(live_server, unverified)


async def test_a_deleted_or_disabled_account_cannot_connect(live_server, platform):
    """The connect handler runs the same token check as the HTTP API."""
    for change in ({"deleted_at": utcnow()}, {"disabled_at": utcnow()}):
        user_id, email = await committed_user(platform)
        access = (await tokens(live_server, email))["access_token"]
        async with platform.unit_of_work() as session:
            await session.execute(update(User).where(User.id == user_id).values(**change))
        with pytest.raises(socketio.exceptions.ConnectionError):
            await connect(live_server, access)


async def test_full_conversation_over_socketio(live_server, platform):
    user_id, email = await committed_user(platform)
    access = (await tokens(live_server, email))["access_token"]
    session_id = await new_session(live_server, access)

    phone, tablet = await connect(live_server, access), await connect(live_server, access)
    on_phone, on_tablet = Recorder(phone), Recorder(tablet)
    try:
        # typing indicators, user → the user's other devices
        typing_ack = await phone.call(
            "typing", {"session_id": session_id, "typing": True}, namespace="/chat", timeout=5
        )
        assert typing_ack == {"ok": True}

        bad = await phone.call(
            "send_message", {"session_id": session_id, "content": ""}, namespace="/chat", timeout=5
        )
        assert bad["error"]["code"] == "validation_error"
        foreign = await phone.call(
            "send_message",
            {"session_id": str(uuid.uuid4()), "content": "hi"},
            namespace="/chat",
            timeout=5,
        )
        assert foreign["error"]["code"] == "not_found"

        ack = await phone.call(
            "send_message",
            {
                "session_id": session_id,
                "content": "I feel nervous before my games",
                "client_message_id": "c-1",
            },
            namespace="/chat",
            timeout=10,
        )
        assert ack["ok"] and ack["message"]["type"] == "user"
        await asyncio.wait_for(on_phone.done.wait(), 30)
        await asyncio.wait_for(on_tablet.done.wait(), 5)  # every device gets the reply

        assert any(e["actor"] == "user" for e in on_tablet.of("typing"))
        assert any(e["actor"] == "coach" and e["typing"] for e in on_phone.of("typing"))
        tokens_ = on_phone.of("reply_token")
        assert len(tokens_) >= 5  # streamed token by token
        reply = on_phone.of("reply_done")[0]["message"]
        assert "".join(t["token"] for t in tokens_).strip() == reply["content"].strip()
        statuses = [(s["id"], s["status"]) for s in on_phone.of("message_status")]
        assert (ack["message"]["id"], "sent") in statuses
        assert (ack["message"]["id"], "delivered") in statuses

        read = await tablet.call(
            "read", {"message_ids": [reply["id"]], "status": "read"}, namespace="/chat", timeout=5
        )
        assert read == {"ok": True, "updated": 1}
        await asyncio.sleep(0.2)
        assert (reply["id"], "read") in [
            (s["id"], s["status"]) for s in on_phone.of("message_status")
        ]
    finally:
        await phone.disconnect()
        await tablet.disconnect()

    async with platform.unit_of_work() as session:
        stored = await session.scalar(select(Message).where(Message.id == uuid.UUID(reply["id"])))
        assert stored.status == MessageStatus.read
        assert stored.user_id == user_id


async def test_the_models_tokens_are_streamed_to_socketio_listeners(
    settings, platform, fake_openai
):
    """With a model configured, a Socket.IO turn relays the model's streamed tokens as
    they arrive; the stored reply is what was streamed."""
    fake_openai.reset()
    configured = settings.model_copy(
        update={
            "openai_base_url": fake_openai.base_url,
            "openai_api_key": SecretStr("sk-test"),
            "llm": LlmSettings(provider="openai", max_retries=0, moderation=False),
        }
    )
    _, email = await committed_user(platform)
    with running_app(configured) as url:
        access = (await tokens(url, email))["access_token"]
        session_id = await new_session(url, access)
        client = await connect(url, access)
        recorder = Recorder(client)
        try:
            ack = await send(client, session_id, "I feel nervous before my games")
            assert ack["ok"]
            await asyncio.wait_for(recorder.done.wait(), 30)
        finally:
            await client.disconnect()
    streamed = fake_openai.requests_for("chat/completions")[-1]
    assert streamed.stream is True
    reply = recorder.of("reply_done")[0]["message"]
    assert reply["metadata"]["provider"] == "openai"
    pieces = [t["token"] for t in recorder.of("reply_token")]
    assert len(pieces) >= 5 and "".join(pieces).strip() == reply["content"].strip()
