"""`wellcoach escalations` and `wellcoach coaches` as an admin runs them: an athlete's
crisis message over the API shows up in the queue, a coach registered with the CLI
takes it, the case is read (audited) and closed; errors are one line and an exit code."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select
from typer.testing import CliRunner

from api.main import create_app
from cli.main import app as cli
from tests.support.clients import make_client
from tests.support.factories import bearer, login, unique_email
from tests.support.realtime import committed_user
from wellcoach.models import AuditLog, Escalation

runner = CliRunner()
PASSWORD = "a long enough coach passphrase"
CRISIS = "I can't do this anymore, I want to kill myself"


async def run(*args: str):
    """The CLI runs its own event loop: in a thread, beside the test's."""
    return await asyncio.to_thread(runner.invoke, cli, list(args))


async def ok_json(*args: str):
    result = await run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def _crisis_over_the_api(settings, platform) -> str:
    """The athlete's user id; the API commits as in production."""
    user_id, email = await committed_user(platform)
    async with make_client(create_app(settings, platform)) as client:
        headers = bearer(await login(client, email))
        session_id = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
        response = await client.post(
            f"/v1/chat/sessions/{session_id}/messages",
            json={"content": CRISIS, "client_message_id": "cli-1"},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["crisis"] is True
    return str(user_id)


async def test_a_crisis_reaches_the_queue_and_a_cli_coach_works_it(cli_env, settings, platform):
    user_id = await _crisis_over_the_api(settings, platform)

    listed = await ok_json("escalations", "list")
    (mine,) = [row for row in listed if row["user_id"] == user_id]
    assert (mine["urgency"], mine["reason"], mine["status"]) == (
        "critical",
        "emergency_support",
        "submitted",
    )
    assert mine["response_time_sla"] == "1h" and "message" not in mine
    submitted = await ok_json("escalations", "list", "--status", "submitted")
    assert mine["id"] in {row["id"] for row in submitted}
    table = await run("escalations", "list")
    assert table.exit_code == 0 and "critical" in table.stdout and "escalation(s)" in table.stdout

    email = unique_email("coach")
    created = await run(
        "users", "create", email, "--password", PASSWORD, "--role", "coach", "--verified",
        "--name", "Coach Carla",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    coach = await ok_json(
        "coaches", "add", email, "--sport", "Football", "--language", "en", "--language", "it",
        "--timezone", "Europe/Rome", "--capacity", "3", "--availability", "mon=09:00-17:00",
    )  # fmt: skip
    assert coach["sports"] == ["football"] and coach["languages"] == ["en", "it"]
    assert (coach["timezone"], coach["capacity"], coach["open_cases"]) == ("Europe/Rome", 3, 0)
    assert coach["availability"] == {"mon": [["09:00", "17:00"]]}
    again = await run("coaches", "add", email)
    assert again.exit_code == 4 and "coach_exists" in again.output

    hours = await ok_json(
        "coaches", "availability", email, "--set", "tue=10:00-12:00,mon=08:00-09:00"
    )
    assert hours["availability"] == {"tue": [["10:00", "12:00"]], "mon": [["08:00", "09:00"]]}
    shown = await run("coaches", "availability", email)
    assert shown.exit_code == 0 and "mon=08:00-09:00,tue=10:00-12:00" in shown.stdout
    bad = await run("coaches", "availability", email, "--set", "mon=17:00-09:00")
    assert bad.exit_code == 2 and "invalid_availability" in bad.output

    assigned = await ok_json("escalations", "assign", mine["id"], email)
    assert (assigned["status"], assigned["assigned_coach"]) == ("assigned", coach["id"])
    assert assigned["priority"] >= 80  # a crisis: critical + emergency + crisis flag
    (listed_coach,) = [c for c in await ok_json("coaches", "list") if c["id"] == coach["id"]]
    assert listed_coach["open_cases"] == 1

    case = await ok_json("escalations", "show", mine["id"])
    assert case["message"] == CRISIS
    assert [(e["from"], e["to"]) for e in case["events"]] == [
        ("submitted", "triaged"),
        ("triaged", "assigned"),
    ]
    assert case["triage"]["priority"] == assigned["priority"]
    async with platform.unit_of_work() as session:
        viewed = await session.scalar(
            select(AuditLog).where(
                AuditLog.resource_id == mine["id"], AuditLog.action == "escalation.viewed"
            )
        )
        assert viewed is not None and viewed.details["source"] == "cli"
        assert CRISIS not in json.dumps(viewed.details)

    closed = await run("escalations", "close", mine["id"], "--note", "spoke on the phone")
    assert closed.exit_code == 0, closed.output
    async with platform.unit_of_work() as session:
        row = await session.get(Escalation, mine["id"])
        assert row is not None and row.closed_at is not None
    twice = await run("escalations", "close", mine["id"])
    assert twice.exit_code == 4
    assert "illegal_transition" in twice.output and len(twice.output.strip().splitlines()) == 1


async def test_cli_errors_are_one_line_with_an_exit_code(cli_env, platform):
    athlete = unique_email("athlete")
    created = await run("users", "create", athlete, "--password", PASSWORD)
    assert created.exit_code == 0, created.output
    not_coach = await run("coaches", "add", athlete)
    assert not_coach.exit_code == 4 and "not_a_coach" in not_coach.output
    assert (await run("escalations", "show", "not-an-id")).exit_code == 2
    missing = await run("escalations", "show", "00000000-0000-0000-0000-000000000000")
    assert missing.exit_code == 3 and "not_found" in missing.output
    assert (await run("coaches", "availability", athlete)).exit_code == 3
    assert (await run("coaches", "add", "nobody@example.com")).exit_code == 3
