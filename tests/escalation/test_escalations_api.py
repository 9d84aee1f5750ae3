"""POST /v1/escalations and GET /v1/escalations as the athlete's app uses them: a request
is triaged and assigned to a matching available coach at once, the athlete sees their
own requests (and the automatic crisis one), 3 a day except critical or emergency."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from tests.support.factories import bearer, create_user, login
from wellcoach.escalation.coaches import add_coach
from wellcoach.models import AuditLog, Escalation
from wellcoach.models.enums import EscalationStatus, Role

ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


async def _athlete(client, db_session, platform, **fields):
    user = await create_user(db_session, platform, **fields)
    return user, bearer(await login(client, user.email))


async def test_a_request_is_triaged_and_assigned_to_a_matching_coach(client, db_session, platform):
    sport = f"sport-{uuid.uuid4().hex[:8]}"  # only this test's coach plays it
    coach_user = await create_user(db_session, platform, role=Role.coach, name="Coach Marta")
    await add_coach(
        db_session, coach_user.email, sports=[sport], languages=["it"], availability=ALWAYS
    )
    user, headers = await _athlete(client, db_session, platform, sport=sport, language="it")
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]

    created = await client.post(
        "/v1/escalations",
        json={
            "reason": "needs_human_support",
            "urgency": "high",
            "message": "Vorrei parlare con una persona del mio blocco prima delle gare.",
            "context": {"session_id": session_id, "recent_mood_scores": [3, 2, 4]},
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "assigned" and body["assigned_coach"] == "Coach Marta"
    assert body["response_time_sla"] == "4h" and body["session_id"] == session_id
    assert body["message"].startswith("Vorrei parlare")

    stored = await db_session.scalar(
        select(Escalation).where(Escalation.id == uuid.UUID(body["id"]))
    )
    assert stored is not None and b"Vorrei" not in stored.message_encrypted
    assert stored.priority >= 40 + 10  # high, needs_human_support, low mood
    actions = set(
        await db_session.scalars(select(AuditLog.action).where(AuditLog.resource_id == body["id"]))
    )
    assert {"escalation.open", "escalation.triaged", "escalation.assigned"} <= actions

    listed = await client.get("/v1/escalations", headers=headers)
    assert [e["id"] for e in listed.json()] == [body["id"]]


async def test_without_an_available_coach_the_request_waits_triaged(client, db_session, platform):
    _, headers = await _athlete(client, db_session, platform, sport=f"s-{uuid.uuid4().hex[:6]}")
    created = await client.post(
        "/v1/escalations",
        json={"reason": "technical_issue", "urgency": "low", "message": "The app logs me out."},
        headers=headers,
    )
    assert created.status_code == 201
    assert created.json()["status"] in {"triaged", "assigned"}  # others' coaches may be on
    assert created.json()["response_time_sla"] == "72h"


async def test_three_a_day_but_never_a_critical_or_emergency_request(client, db_session, platform):
    _, headers = await _athlete(client, db_session, platform)
    ask = {"reason": "general_inquiry", "urgency": "low", "message": "A question for a coach."}
    for _ in range(3):
        assert (await client.post("/v1/escalations", json=ask, headers=headers)).status_code == 201
    refused = await client.post("/v1/escalations", json=ask, headers=headers)
    assert refused.status_code == 429
    assert refused.json()["error"]["details"]["policy"] == "escalation"
    assert int(refused.headers["Retry-After"]) > 0
    for urgent in (
        {"reason": "needs_human_support", "urgency": "critical", "message": "Help me now."},
        {"reason": "emergency_support", "urgency": "high", "message": "I am not safe."},
    ):
        for _ in range(2):
            sent = await client.post("/v1/escalations", json=urgent, headers=headers)
            assert sent.status_code == 201, sent.text
    assert len((await client.get("/v1/escalations", headers=headers)).json()) == 7


async def test_the_automatic_crisis_escalation_is_listed_for_the_athlete(
    client, db_session, platform, kb
):
    _, headers = await _athlete(client, db_session, platform)
    session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    turn = await client.post(
        f"/v1/chat/sessions/{session_id}/messages",
        json={"content": "I want to kill myself"},
        headers=headers,
    )
    assert turn.json()["crisis"] is True
    (mine,) = (await client.get("/v1/escalations", headers=headers)).json()
    assert mine["urgency"] == "critical" and mine["reason"] == "emergency_support"
    assert mine["response_time_sla"] == "1h" and mine["message"] == "I want to kill myself"
    assert mine["status"] == EscalationStatus.submitted.value


async def test_bad_requests(client, db_session, platform):
    _, headers = await _athlete(client, db_session, platform)
    other, other_headers = await _athlete(client, db_session, platform)
    theirs = (await client.post("/v1/chat/sessions", headers=other_headers)).json()["id"]
    foreign = await client.post(
        "/v1/escalations",
        json={"reason": "general_inquiry", "message": "hi", "context": {"session_id": theirs}},
        headers=headers,
    )
    assert foreign.status_code == 404
    for body in (
        {"reason": "general_inquiry", "message": "   "},
        {"reason": "lonely", "message": "hi"},
        {"reason": "general_inquiry", "urgency": "urgent", "message": "hi"},
        {"reason": "general_inquiry", "message": "hi", "context": {"recent_mood_scores": [11]}},
        {"reason": "general_inquiry", "message": "hi", "user_id": str(other.id)},
    ):
        response = await client.post("/v1/escalations", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "validation_error"
    assert (await client.get("/v1/escalations")).status_code == 401
    _, unverified = await _athlete(client, db_session, platform, verified=False)
    assert (await client.get("/v1/escalations", headers=unverified)).status_code == 403
    # one user never sees another's
    assert (await client.get("/v1/escalations", headers=other_headers)).json() == []
