"""Queued replies: `mode: async` answers 202, an RQ worker answers once, retries don't duplicate."""

from __future__ import annotations

import asyncio

import redis
import socketio  # noqa: F401 - the worker publishes through python-socketio's Redis manager
from sqlalchemy import func, select

from api.main import create_app
from jobs.chat import generate_reply_job
from jobs.queues import HIGH
from jobs.queues import queue as job_queue
from tests.support.factories import PASSWORD, create_user, next_published
from tests.support.workers import run_worker_until_idle
from wellcoach.chat import service
from wellcoach.chat.schemas import SendMessageIn
from wellcoach.models import Message, User
from wellcoach.models.enums import MessageType


async def test_async_turn_is_answered_by_the_worker_once(cli_env, settings, platform, services):
    from tests.support.clients import make_client

    async with platform.unit_of_work() as session:
        user = await create_user(session, platform)
        chat = await service.start_session(session, platform.vault, user)
        user_id, email = user.id, user.email
    app = create_app(settings, platform)  # the worker reads committed data: commit for real
    async with make_client(app, "10.7.0.1") as http:
        login = await http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        queued = await http.post(
            f"/v1/chat/sessions/{chat.id}/messages",
            headers=headers,
            json={"content": "how do I sleep before games?", "mode": "async"},
        )
    assert queued.status_code == 202
    body = queued.json()
    assert body["queued"] is True and body["reply"] is None
    message_id = body["user_message"]["id"]

    pubsub = platform.redis.pubsub()
    await pubsub.subscribe("socketio")
    connection = redis.Redis.from_url(services.redis_url)
    queue = job_queue(HIGH, connection)
    assert queue.fetch_job(f"reply-{message_id}") is not None
    await run_worker_until_idle()

    published = await next_published(pubsub)
    assert published is not None and b"reply_done" in published  # pushed to the devices

    again = await asyncio.to_thread(generate_reply_job, str(user_id), message_id)
    async with platform.unit_of_work() as session:
        replies = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.reply_to_id == message_id, Message.type == MessageType.ai)
        )
        first = await session.scalar(select(Message.id).where(Message.reply_to_id == message_id))
        assert await session.get(User, user_id) is not None
    assert replies == 1
    assert again == str(first)  # a retried job returns the existing reply
    connection.close()


def test_generate_reply_job_ignores_unknown_ids(cli_env):
    import uuid

    assert generate_reply_job(str(uuid.uuid4()), str(uuid.uuid4())) is None


async def test_accept_is_idempotent_by_client_message_id(platform):
    async with platform.unit_of_work() as session:
        user = await create_user(session, platform)
        chat = await service.start_session(session, platform.vault, user)
        data = SendMessageIn(content="hello coach", client_message_id="dup-1")
        first = await service.accept(session, platform.vault, user, chat.id, data)
        second = await service.accept(session, platform.vault, user, chat.id, data)
    assert (first.new, second.new) == (True, False)
    assert first.message.id == second.message.id


def test_worker_preloads_the_models_its_work_horses_inherit(cli_env):
    """`wellcoach worker` loads the embedder and the crisis classifier before forking."""
    from jobs.chat import preload
    from wellcoach.chat.safety.semantic import layer
    from wellcoach.config import get_settings
    from wellcoach.rag.embedders import UseEmbedder

    settings = get_settings()
    preload(settings)
    assert settings.rag.embedder_threads in UseEmbedder._shared
    assert layer()._classifier is not None
    assert "warm up" in UseEmbedder._recent  # the model has run once, not only loaded
