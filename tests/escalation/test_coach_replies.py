"""A coach answers an escalation and the athlete receives it: over Socket.IO at once, and
in the session's messages; the escalation is `responded` with its first response time.
The issue's walk-through, with the CLI standing in for the coach's dashboard."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app as cli
from tests.support.factories import unique_email
from tests.support.realtime import committed_user, connect, tokens
from wellcoach.access import Subject
from wellcoach.chat.coach_replies import reply_as_coach
from wellcoach.errors import Forbidden, InvalidInput
from wellcoach.models.enums import Role

runner = CliRunner()
PASSWORD = "a long enough coach passphrase"
CRISIS = "I can't do this anymore, I want to kill myself"


async def run(*args: str) -> dict:
    result = await asyncio.to_thread(runner.invoke, cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def test_a_coach_reply_reaches_the_athlete_live_and_in_the_chat(
    cli_env, live_server, platform
):
    _, email = await committed_user(platform)
    access = (await tokens(live_server, email))["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    async with httpx.AsyncClient(base_url=live_server, headers=headers) as http:
        session_id = (await http.post("/v1/chat/sessions")).json()["id"]
        turn = await http.post(f"/v1/chat/sessions/{session_id}/messages", json={"content": CRISIS})
        assert turn.json()["crisis"] is True
        (escalation,) = (await http.get("/v1/escalations")).json()

    coach_email = unique_email("coach")
    await run("users", "create", coach_email, "--password", PASSWORD, "--role", "coach",
              "--verified", "--name", "Coach Ada")  # fmt: skip
    await run("coaches", "add", coach_email, "--language", "en")
    assigned = await run("escalations", "assign", escalation["id"], coach_email)
    assert assigned["status"] == "assigned"

    phone = await connect(live_server, access)
    received: dict[str, list[dict]] = {"coach_reply": [], "escalation_status": []}
    arrived = asyncio.Event()

    def on(name: str):
        async def handle(data: dict) -> None:
            received[name].append(data)
            if name == "escalation_status":
                arrived.set()

        return handle

    for name in received:
        phone.on(name, on(name), namespace="/chat")
    try:
        answered = await run(
            "escalations", "respond", escalation["id"], "--as", coach_email,
            "--message", "I'm here with you. Can you call me on the number in your app now?",
        )  # fmt: skip
        await asyncio.wait_for(arrived.wait(), timeout=10)
    finally:
        await phone.disconnect()
    assert answered["status"] == "responded"
    (pushed,) = received["coach_reply"]
    assert pushed["message"]["type"] == "coach"
    assert pushed["message"]["session_id"] == session_id
    assert pushed["message"]["content"].startswith("I'm here with you")
    assert received["escalation_status"] == [{"id": escalation["id"], "status": "responded"}]

    async with httpx.AsyncClient(base_url=live_server, headers=headers) as http:
        detail = (await http.get(f"/v1/chat/sessions/{session_id}")).json()
        mine = (await http.get("/v1/escalations")).json()
    coach_messages = [m for m in detail["messages"] if m["type"] == "coach"]
    assert [m["content"] for m in coach_messages] == [pushed["message"]["content"]]
    assert mine[0]["status"] == "responded" and mine[0]["first_response_at"] is not None
    assert mine[0]["assigned_coach"] == "Coach Ada"


async def test_only_the_assigned_coach_answers_and_only_an_assigned_case(
    cli_env, db_session, platform
):
    from tests.support.factories import create_user
    from wellcoach.audit import RequestContext
    from wellcoach.escalation.service import open_escalation
    from wellcoach.models.enums import EscalationReason, Urgency

    athlete = await create_user(db_session, platform)
    stranger = await create_user(db_session, platform, role=Role.coach)
    escalation = await open_escalation(
        db_session,
        platform.vault,
        user_id=athlete.id,
        reason=EscalationReason.general_inquiry,
        urgency=Urgency.low,
        message="a question",
        context={},
        request=RequestContext(source="test"),
    )
    as_athlete = Subject(user_id=athlete.id, role=Role.athlete)
    with pytest.raises(Forbidden):
        await reply_as_coach(
            db_session,
            platform.vault,
            coach=as_athlete,
            escalation_id=str(escalation.id),
            text="hi",
            request=RequestContext(source="test"),
        )
    admin = Subject(user_id=stranger.id, role=Role.admin)
    with pytest.raises(InvalidInput):  # submitted: nobody has it yet
        await reply_as_coach(
            db_session,
            platform.vault,
            coach=admin,
            escalation_id=str(escalation.id),
            text="hi",
            request=RequestContext(source="test"),
        )
    with pytest.raises(InvalidInput):
        await reply_as_coach(
            db_session,
            platform.vault,
            coach=admin,
            escalation_id=str(escalation.id),
            text="   ",
            request=RequestContext(source="test"),
        )
