"""`wellcoach limits show|reset` and `users set-tier` as an admin runs them, against the
counts the API keeps."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from api.main import create_app
from cli.main import app as cli
from tests.support.clients import make_client
from tests.support.factories import bearer, login, unique_email

runner = CliRunner()
PASSWORD = "a long enough athlete passphrase"


async def run(*args: str):
    """The CLI runs its own event loop: in a thread, beside the test's."""
    return await asyncio.to_thread(runner.invoke, cli, list(args))


async def usage(email: str) -> dict[str, dict]:
    result = await run("limits", "show", email, "--json")
    assert result.exit_code == 0, result.output
    return {row["policy"]: row for row in json.loads(result.stdout)["policies"]}


async def test_show_reset_and_a_change_of_tier(cli_env, settings, platform):
    """The API commits as in production: the CLI, on its own connections, changes the
    same rows."""
    async with make_client(create_app(settings, platform)) as client:
        await _show_reset_and_change_tier(client)


async def _show_reset_and_change_tier(client) -> None:
    email = unique_email("limits")
    created = await run(
        "users", "create", email, "--password", PASSWORD, "--verified",
        "--consent", "data_processing", "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    headers = bearer(await login(client, email, PASSWORD))
    for _ in range(3):
        assert (await client.get("/v1/me", headers=headers)).status_code == 200

    before = await usage(email)
    assert set(before) == {"requests", "chat_send", "health_sync", "escalation", "data_export"}
    assert (before["requests"]["used"], before["requests"]["limit"]) == (3, 100)
    assert before["chat_send"] == {**before["chat_send"], "used": 0, "limit": 20}

    assert (await run("users", "set-tier", email, "premium")).exit_code == 0
    after = await client.get("/v1/me", headers=headers)
    assert "1000;w=86400" in after.headers["RateLimit-Policy"]
    assert (await usage(email))["requests"]["limit"] == 1000
    assert (await usage(email))["requests"]["used"] == 4  # today's count carried over

    table = await run("limits", "show", email)
    assert table.exit_code == 0 and "requests" in table.stdout and "premium" in table.stdout

    reset = await run("limits", "reset", email, "requests", "--json")
    assert reset.exit_code == 0, reset.output
    assert json.loads(reset.stdout)["reset"] == ["requests"]
    assert (await usage(email))["requests"]["used"] == 0
    assert (await usage(email))["chat_send"]["used"] == 0
    assert (await run("limits", "reset", email)).exit_code == 0  # every per-user policy

    unknown = await run("limits", "reset", email, "no_such_policy")
    assert unknown.exit_code != 0
    assert "No rate-limit policy 'no_such_policy'" in unknown.output
    per_address = await run("limits", "reset", email, "global")
    assert per_address.exit_code != 0 and "per client address" in per_address.output
    assert (await run("limits", "show", "nobody@example.com")).exit_code != 0
