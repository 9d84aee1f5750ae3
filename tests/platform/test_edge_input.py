"""Bad input gets a clear 4xx, never a 500, and nothing reaches the database or the logs:
control characters in any text field (at either end too), messages with nothing visible,
self-registration as staff, numbers where a date or a boolean belongs; an outage of the
database or Redis, whatever shape its error takes, is a 503 with Retry-After; an admin
typing an unusable email gets one red line."""

from __future__ import annotations

import uuid
from dataclasses import replace

import psycopg
import pyotp
import pytest
import redis
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import OperationalError as SqlOperationalError
from typer.testing import CliRunner

from api.main import create_app
from cli.main import app as cli_app
from tests.support.clients import make_client
from tests.support.factories import PASSWORD, bearer, create_user, login, unique_email
from tests.support.units import savepoint_units
from wellcoach.auth import service as auth_service
from wellcoach.db.session import Database
from wellcoach.platform import open_platform
from wellcoach.runtime.services import ServiceUrls

NUL, UNIT_SEPARATOR, ZERO_WIDTH, BOM = "\u0000", "\u001f", "\u200b", "\ufeff"
# a line tabulation and a C1 control: trimmed away unseen when trimming came first
TAB_LINE, NEXT_LINE = "\u000b", "\u0085"
# blank, but not spaces: braille blank, Hangul filler, a variation selector
BLANKS = ("\u2800", "\u3164 \u3164", "\ufe0f")
DEAD_REDIS = "redis://127.0.0.1:1/0"


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
        {"name": f"{TAB_LINE}Ana"},
        {"sport": f"tennis{NEXT_LINE}"},
        {"team": "\nRoma"},
        {"name": BLANKS[0]},
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
    for content in (
        UNIT_SEPARATOR,
        ZERO_WIDTH,
        f" {ZERO_WIDTH} {BOM} ",
        f"hi{NUL}",
        f"{TAB_LINE}hi",
        f"hi{NEXT_LINE}",
        *BLANKS,
    ):
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
    for before in (
        "0.5",
        "-1",
        "1733212800",
        "-2.2039077029747338e-144",  # a Unix time too, to pydantic
        "2026-12-03",  # no time
        "2026-12-03T08:00:00",  # no offset
        "2026-12-03 08:00:00Z",
    ):
        _refused(await client.get("/v1/chat/sessions", headers=headers, params={"before": before}))
    for repeated in (
        [("before", "2030-01-01T00:00:00Z"), ("before", "2030-01-01T00:00:00Z")],
        [("limit", "5"), ("limit", "6")],
    ):
        assert _refused(
            await client.get("/v1/chat/sessions", headers=headers, params=repeated)
        ) == [f"query.{repeated[0][0]}"]
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
    response = await client.put("/v1/me", json={})
    assert response.status_code == 405
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert {"GET", "PATCH", "DELETE"} <= allowed


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


async def test_accepted_text_is_trimmed_after_the_check(client, db_session, platform):
    """Spaces around a name go; what is inside stays as sent."""
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    response = await client.patch("/v1/me", headers=headers, json={"name": "  Alice\u00a0Rossi "})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Alice\u00a0Rossi"
    _refused(await client.patch("/v1/me", headers=headers, json={"team": f"Roma {TAB_LINE}"}))


async def test_two_factor_with_redis_down_is_a_503_with_retry_after(
    settings, services, db_session, platform
):
    """A good code is remembered in Redis (no replay): with Redis down, the answer is a
    503 to retry, not a 500."""
    user = await create_user(db_session, platform)
    secret, _ = await auth_service.totp_enroll(db_session, platform, user)
    await db_session.flush()
    broken = await open_platform(
        settings, ServiceUrls(services.database_url, DEAD_REDIS, False, False)
    )
    try:
        access, _ = await broken.signer.issue_access(user.id, "athlete", "free", user.session_epoch)
        app = create_app(settings, broken, units=savepoint_units(db_session.bind))
        async with make_client(app, "10.9.2.2") as http:
            response = await http.post(
                "/v1/auth/2fa/confirm",
                headers={"Authorization": f"Bearer {access}"},
                json={"code": pyotp.TOTP(secret).now()},
            )
    finally:
        await broken.close()
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def _driver_error(error: Exception) -> DBAPIError:
    """A driver error as code that talks to psycopg directly wraps it (retrieval does)."""
    return DBAPIError("SELECT 1", {}, error)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("server closed the connection unexpectedly"),
        _driver_error(psycopg.OperationalError("server closed the connection unexpectedly")),
        _driver_error(psycopg.errors.AdminShutdown("terminating connection")),
        SqlOperationalError("SELECT 1", {}, Exception("connection refused")),
        ConnectionRefusedError(111, "Connection refused"),
        redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379"),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_every_shape_of_outage_is_a_503_with_retry_after(settings, platform, error):
    app = create_app(settings, platform)

    async def fails() -> None:
        raise error

    app.add_api_route("/v1/test/outage", fails)
    async with make_client(app) as http:
        response = await http.get("/v1/test/outage")
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) > 0


async def test_a_driver_error_that_is_no_outage_is_a_plain_500(settings, platform):
    """A value the database refuses is a bug to fix, not a reason to retry."""
    app = create_app(settings, platform)

    async def fails() -> None:
        raise _driver_error(psycopg.DataError("PostgreSQL text fields cannot contain NUL"))

    app.add_api_route("/v1/test/data-error", fails)
    async with make_client(app) as http:
        response = await http.get("/v1/test/data-error")
    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": "internal_error",
        "message": "Something went wrong on our side.",
        "details": None,
    }
    assert "Retry-After" not in response.headers


async def test_numbers_and_ids_are_what_the_schema_says(client, db_session, platform):
    """`true` is not a mood of 1, "5" is not 5, and an id is a hyphenated UUID: pydantic
    alone accepts all of these, the schema none."""
    user = await create_user(db_session, platform)
    headers = bearer(await login(client, user.email))
    chat = (await client.post("/v1/chat/sessions", headers=headers)).json()["id"]
    for mood in ({"mood": True}, {"mood": "5"}, {"stress": False}):
        _refused(await client.post(f"/v1/chat/sessions/{chat}/mood", headers=headers, json=mood))
    fine = await client.post(f"/v1/chat/sessions/{chat}/mood", headers=headers, json={"mood": 5})
    assert fine.status_code == 201, fine.text
    for other_form in (chat.replace("-", ""), "{" + chat + "}", "urn:uuid:" + chat):
        assert _refused(await client.get(f"/v1/chat/sessions/{other_form}", headers=headers)) == [
            "path.session_id"
        ]
    _refused(
        await client.post(
            "/v1/chat/messages/status",
            headers=headers,
            json={"message_ids": [chat.replace("-", "")], "status": "read"},
        )
    )
    assert (
        await client.get(f"/v1/chat/sessions/{chat.upper()}", headers=headers)
    ).status_code == 200
