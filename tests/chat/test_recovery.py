"""Every accepted message ends with a reply, or with a visible `error` and a retry the
user can trigger: the sweep queues again turns whose answer was lost (a worker killed
mid-job, a queue that was down) without ever answering twice; `POST .../retry` asks
again; a turn for later with Redis unreachable is answered now. Jobs are stored as JSON.
Chat needs consent to data processing."""

from __future__ import annotations

import asyncio
import json
import uuid
import zlib
from dataclasses import replace
from datetime import timedelta

import redis
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.main import create_app
from jobs.chat import enqueue_reply, requeue_unanswered_job
from jobs.queues import HIGH, queue
from tests.doubles.jobs import BrokenEmbedder, RecordingJobs
from tests.support.clients import make_client
from tests.support.factories import bearer, create_user, login
from tests.support.workers import run_worker_until_idle
from wellcoach.audit import RequestContext
from wellcoach.chat import service
from wellcoach.chat.schemas import SendMessageIn
from wellcoach.chat.turns import MAX_REQUEUES, STUCK_AFTER, requeue_unanswered
from wellcoach.db.base import utcnow
from wellcoach.models import Message, User
from wellcoach.models.enums import MessageStatus, MessageType
from wellcoach.platform import Platform
from wellcoach.runtime.services import ServiceUrls


async def _stored_message(
    session: AsyncSession, platform: Platform, user: User, text: str = "hello coach"
) -> Message:
    chat = await service.start_session(session, platform.vault, user)
    stored = await service.accept(
        session, platform.vault, user, chat.id, SendMessageIn(content=text)
    )
    return stored.message


async def _replies(session: AsyncSession, message_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.reply_to_id == message_id, Message.type == MessageType.ai)
        )
        or 0
    )


async def test_the_sweep_queues_lost_turns_a_few_times_and_never_answered_ones(
    db_session, platform
):
    user = await create_user(db_session, platform)
    lost = await _stored_message(db_session, platform, user)
    jobs = RecordingJobs()
    later = utcnow() + STUCK_AFTER + timedelta(seconds=5)

    assert await requeue_unanswered(db_session, jobs, now=utcnow()) == 0  # too recent
    for attempt in range(1, MAX_REQUEUES + 1):
        assert await requeue_unanswered(db_session, jobs, now=later) >= 1
        assert (user.id, lost.id) in jobs.replies
        requeued = await db_session.scalar(
            select(Message.metadata_["requeued"].as_integer()).where(Message.id == lost.id)
        )
        assert requeued == attempt
    jobs.replies.clear()
    await requeue_unanswered(db_session, jobs, now=later)
    assert (user.id, lost.id) not in jobs.replies  # given up: the user can still retry

    answered = await _stored_message(db_session, platform, user, "and this one?")
    await service.respond(
        db_session, platform, user, answered, request=RequestContext(source="test")
    )
    await requeue_unanswered(db_session, jobs, now=later)
    assert (user.id, answered.id) not in jobs.replies  # it has its reply
    assert await requeue_unanswered(db_session, RecordingJobs(down=True), now=later) == 0


async def test_a_turn_whose_worker_died_is_answered_by_the_sweep_once(cli_env, platform, services):
    """The job of a stored message is taken off the queue and never finished (a worker
    killed mid-job): the sweep queues it again, a real worker answers it, and a second
    sweep finds nothing to do."""
    async with platform.unit_of_work() as session:
        user = await create_user(session, platform)
        message = await _stored_message(session, platform, user, "how do I sleep before games?")
        message_id, user_id = message.id, user.id
    connection = redis.Redis.from_url(services.redis_url)
    try:
        high = queue(HIGH, connection)
        enqueue_reply(services.redis_url, user_id, message_id)
        job_id = f"reply-{message_id}"
        assert high.fetch_job(job_id) is not None
        high.remove(job_id)  # taken by a worker that then died
        # jobs are JSON, never pickle: whoever writes to Redis cannot run code in a worker
        data = connection.hget(f"rq:job:{job_id}", "data")
        assert data is not None and json.loads(zlib.decompress(data))  # RQ compresses it

        async with platform.unit_of_work() as session:  # the turn is old enough to be stuck
            await session.execute(
                Message.__table__.update()
                .where(Message.__table__.c.id == message_id)
                .values(created_at=utcnow() - STUCK_AFTER - timedelta(seconds=30))
            )
        assert await asyncio.to_thread(requeue_unanswered_job) >= 1
        assert high.fetch_job(f"{job_id}-1") is not None
        await run_worker_until_idle()
        async with platform.unit_of_work() as session:
            assert await _replies(session, message_id) == 1
            status = await session.scalar(select(Message.status).where(Message.id == message_id))
            assert status == MessageStatus.delivered
        await asyncio.to_thread(requeue_unanswered_job)  # it has its reply: not queued again
        assert high.fetch_job(f"{job_id}-2") is None
        async with platform.unit_of_work() as session:
            assert await _replies(session, message_id) == 1  # never answered twice
    finally:
        connection.close()


def _app(app: FastAPI, platform: Platform, **changes: object) -> FastAPI:
    return create_app(
        app.state.platform.settings, replace(platform, **changes), units=app.state.units
    )


async def test_a_failed_message_is_answered_when_the_user_retries(app, db_session, platform):
    user = await create_user(db_session, platform)
    broken = _app(app, platform, embedder=BrokenEmbedder())
    broken.state.turns.jobs = RecordingJobs(down=True)
    async with make_client(broken, "10.9.1.1") as http:
        headers = bearer(await login(http, user.email))
        chat = (await http.post("/v1/chat/sessions", headers=headers)).json()["id"]
        failed = await http.post(
            f"/v1/chat/sessions/{chat}/messages", headers=headers, json={"content": "hi coach"}
        )
    assert failed.status_code == 503
    message_id = failed.json()["error"]["details"]["message_id"]

    async with make_client(app, "10.9.1.1") as http:
        retried = await http.post(f"/v1/chat/messages/{message_id}/retry", headers=headers)
        assert retried.status_code == 200, retried.text
        reply = retried.json()["reply"]
        assert reply["reply_to"] == message_id
        assert retried.json()["user_message"]["status"] == "delivered"
        again = await http.post(f"/v1/chat/messages/{message_id}/retry", headers=headers)
        assert again.status_code == 200 and again.json()["reply"]["id"] == reply["id"]
        unknown = await http.post(f"/v1/chat/messages/{uuid.uuid4()}/retry", headers=headers)
        assert unknown.status_code == 404
    assert await _replies(db_session, uuid.UUID(message_id)) == 1


async def test_an_async_turn_with_redis_unreachable_is_answered_now(app, db_session, platform):
    unreachable = ServiceUrls(platform.urls.database_url, "redis://127.0.0.1:1/0", False, False)
    no_redis = _app(app, platform, urls=unreachable)
    user = await create_user(db_session, platform)
    async with make_client(no_redis, "10.9.1.2") as http:
        headers = bearer(await login(http, user.email))
        chat = (await http.post("/v1/chat/sessions", headers=headers)).json()["id"]
        turn = await http.post(
            f"/v1/chat/sessions/{chat}/messages",
            headers=headers,
            json={"content": "how do I recover after a loss?", "mode": "async"},
        )
    assert turn.status_code == 200, turn.text
    assert turn.json()["reply"]["reply_to"] == turn.json()["user_message"]["id"]


async def test_chat_needs_consent_to_data_processing(client, db_session, platform):
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    chat = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    withdrawn = await client.put(
        "/v1/me/consents", headers=headers, json={"data_processing": False}
    )
    assert withdrawn.status_code == 200
    for response in (
        await client.post("/v1/chat/sessions", headers=headers),
        await client.post(
            f"/v1/chat/sessions/{chat}/messages", headers=headers, json={"content": "hi"}
        ),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "consent_required"
        assert response.json()["error"]["details"] == {"consent": "data_processing"}
