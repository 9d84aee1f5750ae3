"""One open crisis escalation per user: a second crisis turn adds to it (context, event
trail, audit) and still answers with the resources; a closed case lets a new one open."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select, update

from api.main import create_app
from tests.support.clients import make_client
from tests.support.factories import bearer, create_user, login
from tests.support.realtime import committed_user
from wellcoach.models import AuditLog, Escalation, EscalationEvent
from wellcoach.models.enums import EscalationStatus

CRISIS = "I can't do this anymore, I want to kill myself"


async def _athlete(client, db_session, platform):
    """The user's id (the tests expire the ORM session to read what the API wrote) and
    the bearer headers."""
    user = await create_user(db_session, platform)
    return user.id, bearer(await login(client, user.email))


async def _send(client, headers, session_id, content, client_message_id):
    response = await client.post(
        f"/v1/chat/sessions/{session_id}/messages",
        json={"content": content, "client_message_id": client_message_id},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _escalations(db_session, user_id):
    db_session.expire_all()
    return list(
        await db_session.scalars(
            select(Escalation).where(Escalation.user_id == user_id).order_by(Escalation.created_at)
        )
    )


async def test_a_second_crisis_turn_adds_to_the_open_escalation(client, db_session, platform, kb):
    user_id, headers = await _athlete(client, db_session, platform)
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    first = await _send(client, headers, session_id, CRISIS, "c-1")
    second = await _send(client, headers, session_id, CRISIS, "c-2")
    assert first["user_message"]["id"] != second["user_message"]["id"]  # two messages
    for turn in (first, second):
        assert turn["crisis"] is True
        assert turn["reply"]["metadata"]["crisis"] is True
    # the reply to the second still names where to get help now
    assert second["reply"]["content"] == first["reply"]["content"]

    (escalation,) = await _escalations(db_session, user_id)
    assert str(escalation.message_id) == first["user_message"]["id"]
    events = list(
        await db_session.scalars(
            select(EscalationEvent).where(EscalationEvent.escalation_id == escalation.id)
        )
    )
    assert len(events) == 1
    assert b"kill myself" not in events[0].note_encrypted
    note = await platform.vault.open_json(
        db_session, user_id, events[0].note_encrypted, purpose="escalation_event"
    )
    assert note["kind"] == "crisis_followup" and note["text"] == CRISIS
    assert note["message_id"] == second["user_message"]["id"]
    context = await platform.vault.open_json(
        db_session, user_id, escalation.context_encrypted, purpose="escalation_context"
    )
    assert [f["message_id"] for f in context["followups"]] == [second["user_message"]["id"]]
    assert context["chat_history_sample"] is not None  # the first turn's context is kept

    added = list(
        await db_session.scalars(
            select(AuditLog).where(
                AuditLog.user_id == user_id, AuditLog.action == "escalation.crisis_added"
            )
        )
    )
    assert [a.resource_id for a in added] == [str(escalation.id)]
    assert "kill" not in json.dumps(added[0].details)
    opened = await db_session.scalar(
        select(AuditLog).where(AuditLog.user_id == user_id, AuditLog.action == "escalation.open")
    )
    assert opened is not None


async def test_resending_the_same_crisis_message_adds_nothing(client, db_session, platform, kb):
    user_id, headers = await _athlete(client, db_session, platform)
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    await _send(client, headers, session_id, CRISIS, "c-1")
    await _send(client, headers, session_id, "voglio farla finita", "c-2")
    await _send(client, headers, session_id, "voglio farla finita", "c-2")  # a client retry
    (escalation,) = await _escalations(db_session, user_id)
    events = await db_session.scalars(
        select(EscalationEvent).where(EscalationEvent.escalation_id == escalation.id)
    )
    assert len(list(events)) == 1


async def test_crisis_turns_in_three_sessions_at_once_open_one_escalation(settings, platform):
    """Requests with their own connections and transactions, as in production: the
    per-user lock, not luck, keeps it to one escalation."""
    app = create_app(settings, platform)
    user_id, email = await committed_user(platform)
    async with make_client(app) as client:
        headers = bearer(await login(client, email))
        sessions = [
            (await client.post("/v1/chat/sessions", headers=headers)).json()["id"] for _ in range(3)
        ]
        turns = await asyncio.gather(
            *(
                _send(client, headers, session_id, CRISIS, f"p-{i}")
                for i, session_id in enumerate(sessions)
            )
        )
    assert all(turn["crisis"] for turn in turns)
    async with platform.unit_of_work() as session:
        (escalation,) = await _escalations(session, user_id)
        events = await session.scalars(
            select(EscalationEvent).where(EscalationEvent.escalation_id == escalation.id)
        )
        assert len(list(events)) == 2


async def test_after_the_case_is_closed_a_new_crisis_opens_a_new_escalation(
    client, db_session, platform, kb
):
    user_id, headers = await _athlete(client, db_session, platform)
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    await _send(client, headers, session_id, CRISIS, "c-1")
    await db_session.execute(
        update(Escalation)
        .where(Escalation.user_id == user_id)
        .values(status=EscalationStatus.closed)
    )
    await db_session.commit()
    await _send(client, headers, session_id, CRISIS, "c-2")
    escalations = await _escalations(db_session, user_id)
    assert [e.status for e in escalations] == [EscalationStatus.closed, EscalationStatus.submitted]
