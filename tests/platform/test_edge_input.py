"""Bad input gets a clear 4xx, never a 500, and nothing reaches the database or the logs:
control characters in any text field, messages with nothing visible, self-registration
as staff, numbers where a date or a boolean belongs; a database outage is a 503 with
Retry-After; an admin typing an unusable email gets one red line."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from api.main import create_app
from cli.main import app as cli_app
from tests.support.clients import make_client
from tests.support.factories import PASSWORD, bearer, create_user, login, unique_email
from wellcoach.db.session import Database

NUL, UNIT_SEPARATOR, ZERO_WIDTH, BOM = "\u0000", "\u001f", "\u200b", "\ufeff"


def _register(email: str, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "email": email,
        "password": "a long passphrase 42",
        "name": "Ana",
        "sport": "tennis",
        "consents": {"data_processing": True},
    }
    return body | overrides


def _refused(response) -> list[str]:
    assert response.status_code == 422, response.text
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    return [".".join(str(part) for part in error["loc"]) for error in body["details"]]


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": f"al{NUL}ice"},
        {"sport": f"ten{NUL}nis"},
        {"team": f"Rome{NUL}"},
        {"name": f"Ana{UNIT_SEPARATOR}"},
        {"name": "Ana\nSmith"},
        {"password": f"a long pass{NUL}phrase 42"},
        {"role": "coach"},
        {"role": "team_manager"},
        {"consents": {"data_processing": 1}},
        {"consents": {"data_processing": 0.0}},
    ],
)
async def test_registration_refuses_bad_fields(client, overrides):
    fields = _refused(
        await client.post("/v1/auth/register", json=_register(unique_email(), **overrides))
    )
    assert any(key.split(".")[0] in field for key in overrides for field in fields), fields


async def test_profile_and_consent_fields_refuse_control_characters(client, db_session, platform):
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    for patch in (
        {"name": f"al{NUL}ice"},
        {"team": f"Roma{NUL}"},
        {"avatar_config": {"accessories": [f"hat{NUL}"]}},
        {"avatar_config": {"hair": f"short{UNIT_SEPARATOR}"}},
    ):
        _refused(await client.patch("/v1/me", headers=headers, json=patch))
    for change in (
        {"policy_version": f"2026{UNIT_SEPARATOR}11"},
        {"marketing": 0.0},
        {"marketing": "yes"},
    ):
        _refused(await client.put("/v1/me/consents", headers=headers, json=change))
    fine = await client.patch("/v1/me", headers=headers, json={"name": "Alice Rossi"})
    assert fine.status_code == 200 and fine.json()["name"] == "Alice Rossi"


async def test_messages_with_nothing_visible_are_refused(client, db_session, platform):
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    chat = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    url = f"/v1/chat/sessions/{chat}/messages"
    for content in (UNIT_SEPARATOR, ZERO_WIDTH, f" {ZERO_WIDTH} {BOM} ", f"hi{NUL}"):
        assert "body.content" in _refused(
            await client.post(url, headers=headers, json={"content": content})
        )
    assert "body.client_message_id" in _refused(
        await client.post(
            url, headers=headers, json={"content": "hi", "client_message_id": f"id{NUL}"}
        )
    )
    _refused(
        await client.post(
            f"/v1/chat/sessions/{chat}/mood", headers=headers, json={"mood": 5, "note": ZERO_WIDTH}
        )
    )
    detail = await client.get(f"/v1/chat/sessions/{chat}", headers=headers)
    assert detail.json()["messages"] == []  # nothing was stored


async def test_dates_are_iso_text_not_numbers(client, db_session, platform):
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    for before in ("0.5", "-1", "1733212800"):
        _refused(await client.get("/v1/chat/sessions", headers=headers, params={"before": before}))
    fine = await client.get(
        "/v1/chat/sessions", headers=headers, params={"before": "2030-01-01T00:00:00Z"}
    )
    assert fine.status_code == 200


async def test_a_database_outage_is_a_503_with_retry_after(settings, platform):
    access, _ = await platform.signer.issue_access(uuid.uuid4(), "athlete", "free", 0)
    nowhere = Database("postgresql+psycopg://postgres@/postgres?host=/nonexistent", settings.db)
    app = create_app(settings, replace(platform, database=nowhere))
    try:
        async with make_client(app, "10.9.2.1") as http:
            response = await http.get("/v1/me", headers={"Authorization": f"Bearer {access}"})
    finally:
        await nowhere.dispose()
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_cli_refuses_an_unusable_email_on_input(cli_env):
    result = CliRunner().invoke(
        cli_app, ["users", "create", "x@sec.test", "--password", PASSWORD, "--json"]
    )
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "not a usable email address" in result.output
    assert "Traceback" not in result.output


async def test_a_405_names_every_method_of_the_path(client):
    response = await client.delete("/v1/me")
    assert response.status_code == 405
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert {"GET", "PATCH"} <= allowed


async def test_preferences_are_strict_booleans(client, db_session, platform):
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    _refused(
        await client.patch("/v1/me", headers=headers, json={"preferences": {"privacy_mode": 0}})
    )
    _refused(
        await client.patch(
            "/v1/me", headers=headers, json={"avatar_config": {"primary_color": ".exe"}}
        )
    )
