"""The user's country: on the profile (read, set, cleared, validated), in the admin CLI,
in the schema (migration 0004 up and down), and the code list it is checked against."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from cli.main import app as cli_app
from tests.support.factories import bearer, create_user, login, unique_email
from wellcoach.accounts.countries import (
    COUNTRY_CODES,
    accept_language_tags,
    inferred_country,
    region_of,
)
from wellcoach.db import migrate
from wellcoach.models import AuditLog

runner = CliRunner()


async def signed_in(client, db_session, platform, **fields):
    user = await create_user(db_session, platform, **fields)
    return user, bearer(await login(client, user.email))


async def test_me_shows_the_country_and_patch_sets_and_clears_it(client, db_session, platform):
    user, headers = await signed_in(client, db_session, platform, country="IE")
    assert (await client.get("/v1/me", headers=headers)).json()["country"] == "IE"

    changed = await client.patch("/v1/me", json={"country": "gb"}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["country"] == "GB"  # stored upper case
    await db_session.refresh(user)
    assert user.country == "GB"

    untouched = await client.patch("/v1/me", json={"name": "Sam"}, headers=headers)
    assert untouched.json()["country"] == "GB"  # a patch without it keeps it

    cleared = await client.patch("/v1/me", json={"country": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.json()["country"] is None
    audits = await db_session.scalars(
        select(AuditLog.details).where(
            AuditLog.user_id == user.id, AuditLog.action == "profile.update"
        )
    )
    assert sum("country" in details["fields"] for details in audits) == 2


@pytest.mark.parametrize("value", ["UK", "ZZ", "XK", "ITA", "I", "", " it", "1T", 39])
async def test_a_country_that_is_not_an_iso_code_is_a_422_with_its_own_code(
    client, db_session, platform, value
):
    _, headers = await signed_in(client, db_session, platform, country="IT")
    response = await client.patch("/v1/me", json={"country": value}, headers=headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    detail = error["details"][0]
    assert detail["loc"] == ["body", "country"]
    assert detail["type"] == ("string_type" if value == 39 else "invalid_country")
    if value == "UK":
        assert "GB" in detail["msg"]
    assert (await client.get("/v1/me", headers=headers)).json()["country"] == "IT"


def test_the_openapi_pattern_accepts_exactly_the_assigned_codes(app):
    import re

    schema = app.openapi()["components"]["schemas"]["ProfilePatch"]["properties"]["country"]
    pattern = re.compile(next(s["pattern"] for s in schema["anyOf"] if "pattern" in s))
    letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    accepted = {a + b for a in letters for b in letters if pattern.fullmatch(a + b)}
    assert accepted == COUNTRY_CODES
    assert pattern.fullmatch("it") and pattern.fullmatch("Gb") and not pattern.fullmatch("uk")


def test_the_code_list_is_iso_3166_1_as_tzdata_has_it():
    assert len(COUNTRY_CODES) == 249
    for table in (Path("/usr/share/zoneinfo/iso3166.tab"),):
        if table.exists():
            rows = table.read_text(encoding="utf-8").splitlines()
            listed = {row.split("\t")[0] for row in rows if row and not row.startswith("#")}
            assert listed == COUNTRY_CODES


@pytest.mark.parametrize(
    ("tag", "country"),
    [
        ("en-US", "US"),
        ("it-IT", "IT"),
        ("en_GB", "GB"),
        ("zh-Hant-TW", "TW"),
        ("sr-Latn-RS", "RS"),
        ("es-419", None),
        ("en", None),
        ("en-ZZ", None),
        ("en-UK", None),
        ("not a locale", None),
        ("", None),
    ],
)
def test_the_region_of_a_locale(tag, country):
    assert region_of(tag) == country


def test_accept_language_is_read_by_preference_and_never_fails():
    assert accept_language_tags("fr;q=0.5, en-GB;q=0.8, it-IT, *;q=0.1, de-DE;q=0") == [
        "it-IT",
        "en-GB",
        "fr",
    ]
    assert inferred_country(None, "en, en-AU;q=0.9") == "AU"
    assert inferred_country("it", "x" * 5000) is None
    for junk in (";;;", ",,", "q=1", "en-US;q=abc", "🙂", "en-US;q=2"):
        accept_language_tags(junk)
    assert inferred_country(None, "en-US;q=abc") == "US"  # a bad weight counts as 1


# -- the admin CLI ------------------------------------------------------------------------


def test_users_create_takes_a_country(cli_env):
    result = runner.invoke(
        cli_app,
        ["users", "create", unique_email("cli"), "--password", "a long enough admin passphrase"]
        + ["--country", "de", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["country"] == "DE"
    shown = runner.invoke(cli_app, ["users", "show", json.loads(result.stdout)["id"]])
    assert "DE" in shown.stdout


def test_users_create_refuses_a_country_that_is_not_an_iso_code(cli_env):
    email = unique_email("cli")
    result = runner.invoke(
        cli_app,
        ["users", "create", email, "--password", "a long enough admin passphrase"]
        + ["--country", "UK"],
    )
    assert result.exit_code == 2, result.output
    assert "invalid_input" in result.stderr and "country" in result.stderr


# -- migration 0004 -------------------------------------------------------------------------


@pytest.fixture
def scratch_database(services):
    """An empty database on the test server, for migrating up and down on its own."""
    url = make_url(services.database_url)
    name = f"wellcoach_mig_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migration_0004_adds_and_removes_the_column(scratch_database):
    libpq = scratch_database.replace("postgresql+psycopg://", "postgresql://", 1)

    def columns() -> set[str]:
        with psycopg.connect(libpq) as conn:
            rows = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'"
            )
            return {row[0] for row in rows}

    migrate.upgrade(scratch_database, "0003")
    assert "country" not in columns()
    user_id = uuid.uuid4()
    with psycopg.connect(libpq) as conn:
        conn.execute(
            "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, 'x')",
            (user_id, f"{user_id}@example.com"),
        )

    migrate.upgrade(scratch_database, "0004")
    assert migrate.current(scratch_database) == "0004"
    assert "country" in columns()
    with psycopg.connect(libpq) as conn:
        country = conn.execute("SELECT country FROM users WHERE id = %s", (user_id,)).fetchone()
        assert country == (None,)  # existing users have none
        conn.execute("UPDATE users SET country = 'IT' WHERE id = %s", (user_id,))
    with psycopg.connect(libpq) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE users SET country = 'it' WHERE id = %s", (user_id,))

    migrate.downgrade(scratch_database, "0003")
    assert migrate.current(scratch_database) == "0003"
    assert "country" not in columns()
    migrate.upgrade(scratch_database, "head")
    assert "country" in columns()
