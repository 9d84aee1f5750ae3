"""Overload: turns beyond a process's capacity are queued (202 + the reply's id, answered
by a worker over Socket.IO), never refused or lost; a database pool with no connection
free answers a clean 503 with Retry-After. No timing is asserted."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import Any

import pytest
import redis
from pydantic import SecretStr
from rq.job import Job
from sqlalchemy import func, select

from api.main import create_app
from jobs.chat import generate_reply_job
from jobs.queues import HIGH, queue
from tests.doubles.openai_server import FakeOpenAIServer
from tests.support.clients import make_client
from tests.support.factories import bearer, create_user, login
from tests.support.realtime import (
    Recorder,
    committed_user,
    connect,
    new_session,
    send,
    tokens,
)
from tests.support.services import TestServices, running_app
from wellcoach.chat.service import reply_id_for
from wellcoach.chat.turns import TurnSlots
from wellcoach.config import DatabaseSettings, LlmSettings
from wellcoach.db.session import Database
from wellcoach.models import Message
from wellcoach.models.enums import MessageStatus, MessageType
from wellcoach.platform import Platform


def queued_job(services: TestServices, message_id: str) -> Job | None:
    connection = redis.Redis.from_url(services.redis_url)
    try:
        return queue(HIGH, connection).fetch_job(f"reply-{message_id}")
    finally:
        connection.close()


async def replies_to(platform: Platform, message_id: str) -> list[Message]:
    async with platform.unit_of_work() as session:
        rows = await session.scalars(
            select(Message).where(
                Message.reply_to_id == uuid.UUID(message_id), Message.type == MessageType.ai
            )
        )
        return list(rows)


async def test_a_turn_beyond_capacity_is_queued_and_answered_once_by_a_worker(
    cli_env, settings, platform, services
):
    async with platform.unit_of_work() as session:
        user = await create_user(session, platform)
        email = user.email
    app = create_app(settings, platform)  # the worker reads committed data: commit for real
    app.state.turns.slots = TurnSlots(limit=0, wait_seconds=0)  # every slot taken
    async with make_client(app, "10.7.1.1") as http:
        headers = bearer(await login(http, email))
        chat = (await http.post("/v1/chat/sessions", headers=headers)).json()["id"]
        turn = await http.post(
            f"/v1/chat/sessions/{chat}/messages",
            headers=headers,
            json={"content": "how do I sleep before games?", "client_message_id": "o-1"},
        )
        assert turn.status_code == 202, turn.text
        body = turn.json()
        message_id = body["user_message"]["id"]
        assert body["queued"] is True and body["reply"] is None
        assert body["reply_id"] == str(reply_id_for(uuid.UUID(message_id)))
        assert body["user_message"]["status"] == "sent"  # stored, waiting for its answer
        assert queued_job(services, message_id) is not None

        # the worker's job answers it; a retried job returns the same reply
        first = await asyncio.to_thread(generate_reply_job, str(user.id), message_id)
        again = await asyncio.to_thread(generate_reply_job, str(user.id), message_id)
        assert first == again == body["reply_id"]
        assert [str(r.id) for r in await replies_to(platform, message_id)] == [first]

        # the same message sent again (same client id) with capacity back: no new answer
        app.state.turns.slots = TurnSlots(limit=4, wait_seconds=1)
        resent = await http.post(
            f"/v1/chat/sessions/{chat}/messages",
            headers=headers,
            json={"content": "how do I sleep before games?", "client_message_id": "o-1"},
        )
        assert resent.status_code == 200, resent.text
        assert resent.json()["reply"]["id"] == first
        assert resent.json()["user_message"]["status"] == "delivered"
    assert len(await replies_to(platform, message_id)) == 1
    async with platform.unit_of_work() as session:
        count = await session.scalar(
            select(func.count()).select_from(Message).where(Message.session_id == uuid.UUID(chat))
        )
    assert count == 2  # one message, one reply


def small_pool_platform(platform: Platform, **llm: Any) -> Platform:
    """The test platform with a one-connection pool that gives up quickly."""
    settings = platform.settings.model_copy(
        update={
            "db": DatabaseSettings(pool_size=1, max_overflow=0, pool_timeout_seconds=0.3),
            **llm,
        }
    )
    return replace(
        platform.with_settings(settings), database=Database(platform.urls.database_url, settings.db)
    )


async def test_no_free_database_connection_is_a_503_with_retry_after(platform):
    async with platform.unit_of_work() as session:
        user = await create_user(session, platform)
        chat_user = user.id
    crowded = small_pool_platform(platform)
    app = create_app(crowded.settings, crowded)
    access, _ = await platform.signer.issue_access(chat_user, "athlete", "free", 0)
    headers = {"Authorization": f"Bearer {access}"}
    try:
        async with crowded.database.engine.connect() as held:  # the pool's only connection
            await held.exec_driver_sql("SELECT 1")
            async with make_client(app, "10.7.1.2") as http:
                response = await http.post(
                    f"/v1/chat/sessions/{uuid.uuid4()}/messages",
                    headers=headers,
                    json={"content": "hello coach"},
                )
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == str(crowded.settings.api.busy_retry_after_seconds)
        assert response.json()["error"]["code"] == "server_busy"
        async with make_client(app, "10.7.1.2") as http:  # the connection is back: served
            sessions = await http.get("/v1/chat/sessions", headers=headers)
        assert sessions.status_code == 200
    finally:
        await crowded.database.dispose()


async def test_a_pool_timeout_after_the_message_is_stored_queues_the_turn(platform, services):
    """The model is slow and meanwhile the pool runs dry: the stored message is handed to
    a worker (202), not answered with an error."""
    async with platform.unit_of_work() as session:
        user = await create_user(session, platform)
        user_id = user.id
    with FakeOpenAIServer() as upstream:
        upstream.set_latency(600)
        crowded = small_pool_platform(
            platform,
            openai_base_url=upstream.base_url,
            openai_api_key=SecretStr("sk-test"),
            llm=LlmSettings(provider="openai", moderation=False, max_retries=0),
        )
        app = create_app(crowded.settings, crowded)
        access, _ = await platform.signer.issue_access(user_id, "athlete", "free", 0)
        headers = {"Authorization": f"Bearer {access}"}
        try:
            async with make_client(app, "10.7.1.3") as http:
                chat = (await http.post("/v1/chat/sessions", headers=headers)).json()["id"]
                turn = asyncio.create_task(
                    http.post(
                        f"/v1/chat/sessions/{chat}/messages",
                        headers=headers,
                        json={"content": "how do I calm down before a race?"},
                    )
                )
                # the turn has given its connection back and waits for the model
                for _ in range(200):
                    if upstream.requests_for("chat/completions"):
                        break
                    await asyncio.sleep(0.02)
                async with crowded.database.engine.connect() as held:
                    await held.exec_driver_sql("SELECT 1")
                    response = await turn
        finally:
            await crowded.database.dispose()
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["queued"] is True and body["user_message"]["status"] == "sent"
    message_id = body["user_message"]["id"]
    assert queued_job(services, message_id) is not None
    async with platform.unit_of_work() as session:
        stored = await session.scalar(select(Message).where(Message.id == uuid.UUID(message_id)))
    assert stored is not None and stored.status == MessageStatus.sent
    assert await replies_to(platform, message_id) == []


@pytest.fixture(scope="module")
def saturated_server(settings):
    """The real ASGI app with no free turn slot, so every Socket.IO turn is queued."""
    busy = settings.model_copy(
        update={"api": settings.api.model_copy(update={"max_inflight_turns": 0})}
    )
    with running_app(busy) as url:
        yield url


async def test_a_queued_socketio_turn_arrives_from_the_worker(
    saturated_server, cli_env, platform, services
):
    user_id, email = await committed_user(platform)
    access = (await tokens(saturated_server, email))["access_token"]
    session_id = await new_session(saturated_server, access)
    phone = await connect(saturated_server, access)
    on_phone = Recorder(phone)
    try:
        ack = await send(phone, session_id, "I feel nervous before my games")
        assert ack["ok"]
        message_id = ack["message"]["id"]
        for _ in range(100):  # queued by the background task that would have answered
            if queued_job(services, message_id) is not None:
                break
            await asyncio.sleep(0.05)
        assert queued_job(services, message_id) is not None
        await asyncio.to_thread(generate_reply_job, str(user_id), message_id)
        await asyncio.wait_for(on_phone.done.wait(), 30)
    finally:
        await phone.disconnect()
    reply = on_phone.of("reply_done")[0]["message"]
    assert reply["id"] == str(reply_id_for(uuid.UUID(message_id)))
    assert reply["reply_to"] == message_id


async def test_at_capacity_without_a_queue_the_turn_is_answered_anyway(
    settings, platform, db_session, app
):
    """Redis (the queue) is unreachable and no slot is free: the turn runs over the bound
    rather than never."""
    from wellcoach.runtime.services import ServiceUrls

    no_queue = replace(
        platform,
        urls=ServiceUrls(platform.urls.database_url, "redis://127.0.0.1:1/0", False, False),
    )
    user = await create_user(db_session, platform)

    app = create_app(settings, no_queue, units=app.state.units)
    app.state.turns.slots = TurnSlots(limit=0, wait_seconds=0)
    async with make_client(app, "10.7.1.4") as http:
        headers = bearer(await login(http, user.email))
        chat = (await http.post("/v1/chat/sessions", headers=headers)).json()["id"]
        turn = await http.post(
            f"/v1/chat/sessions/{chat}/messages", headers=headers, json={"content": "hi coach"}
        )
    assert turn.status_code == 200, turn.text
    assert turn.json()["reply"]["id"] == turn.json()["reply_id"]
