"""The turn use case's endings that load and outages produce: a reply that fails is
queued for a retry with the message marked `error`; with no queue either, the client
gets a clear 503 and the message is kept; a turn asked for later with no queue is
answered now. Over REST, and through the core for the Socket.IO path."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.main import create_app
from tests.doubles.jobs import BrokenEmbedder, RecordingJobs
from tests.support.clients import make_client
from tests.support.factories import bearer, create_user, login
from wellcoach.audit import RequestContext
from wellcoach.chat import service
from wellcoach.chat.schemas import SendMessageIn
from wellcoach.chat.turns import Answered, Failed, Queued, Turns, TurnSlots
from wellcoach.models import Message
from wellcoach.models.enums import MessageStatus
from wellcoach.platform import Platform


async def _turn(
    app: FastAPI, db_session: AsyncSession, platform: Platform, ip: str, **body: str
) -> httpx.Response:
    user = await create_user(db_session, platform)
    async with make_client(app, ip) as http:
        headers = bearer(await login(http, user.email))
        chat = (await http.post("/v1/chat/sessions", headers=headers)).json()["id"]
        return await http.post(
            f"/v1/chat/sessions/{chat}/messages",
            headers=headers,
            json={"content": "how do I calm down before a race?", **body},
        )


def _app_with(app: FastAPI, platform: Platform, jobs: RecordingJobs, **changes: Any) -> FastAPI:
    """The test app, its platform changed (a broken part), its job queue a recorder."""
    wired = create_app(
        app.state.platform.settings, replace(platform, **changes), units=app.state.units
    )
    wired.state.turns.jobs = jobs
    return wired


async def test_a_failed_reply_marks_the_message_and_queues_a_retry(app, db_session, platform):
    jobs = RecordingJobs()
    broken = _app_with(app, platform, jobs, embedder=BrokenEmbedder())
    response = await _turn(broken, db_session, platform, "10.9.0.1")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["queued"] is True and body["user_message"]["status"] == "error"
    message_id = body["user_message"]["id"]
    assert [str(m) for _, m in jobs.replies] == [message_id]
    stored = await db_session.scalar(select(Message).where(Message.id == message_id))
    assert stored is not None and stored.status == MessageStatus.error


async def test_a_failed_reply_with_no_queue_is_a_503_and_the_message_is_kept(
    app, db_session, platform
):
    broken = _app_with(app, platform, RecordingJobs(down=True), embedder=BrokenEmbedder())
    response = await _turn(broken, db_session, platform, "10.9.0.2", client_message_id="k-1")
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "reply_unavailable"
    stored = await db_session.scalar(
        select(Message).where(Message.id == error["details"]["message_id"])
    )
    assert stored is not None and stored.status == MessageStatus.error


async def test_an_async_turn_with_no_queue_is_answered_now(app, db_session, platform):
    no_queue = _app_with(app, platform, RecordingJobs(down=True))
    response = await _turn(no_queue, db_session, platform, "10.9.0.3", mode="async")
    assert response.status_code == 200, response.text
    assert response.json()["reply"]["reply_to"] == response.json()["user_message"]["id"]


async def test_the_background_path_reads_the_message_again_and_streams(app, db_session, platform):
    """What a Socket.IO turn does after its ack: accepted in one unit of work, answered in
    another, tokens to the listener; a failure there is queued with the message marked."""
    user = await create_user(db_session, platform)
    chat = await service.start_session(db_session, platform.vault, user)
    jobs = RecordingJobs()
    turns = Turns(platform, TurnSlots(2, 1), jobs, app.state.units)
    data = SendMessageIn(content="I get nervous before games")
    heard: list[tuple[str, str]] = []

    async def sink(kind: str, text: str) -> None:
        heard.append((kind, text))

    accepted = await turns.accept_from(user.id, chat.id, data)
    outcome = await turns.answer_later(accepted, request=RequestContext(source="test"), sink=sink)
    assert isinstance(outcome, Answered)
    assert outcome.reply.reply_to == accepted.message_id
    assert heard[0] == ("typing", "") and any(kind == "token" for kind, _ in heard)
    assert outcome.user_message.status == "delivered"

    broken = Turns(
        replace(platform, embedder=BrokenEmbedder()), TurnSlots(2, 1), jobs, app.state.units
    )
    again = await broken.accept_from(user.id, chat.id, SendMessageIn(content="and after them?"))
    failed = await broken.answer_later(again, request=RequestContext(source="test"))
    assert isinstance(failed, Queued) and failed.reason == "failed"
    assert failed.user_message.status == "error"
    assert jobs.replies[-1] == (user.id, again.message_id)

    down = Turns(
        replace(platform, embedder=BrokenEmbedder()),
        TurnSlots(0, 0),
        RecordingJobs(down=True),
        app.state.units,
    )
    third = await down.accept_from(user.id, chat.id, SendMessageIn(content="and now?"))
    assert isinstance(await down.answer_later(third, request=RequestContext(source="test")), Failed)
