"""The finance role: created by an administrator (never self-registered), stored under
the role constraint of migration 0006, which its downgrade keeps while finance accounts
exist."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import psycopg
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from cli.main import app as cli
from tests.dashboard.conftest import Committed, Dashboard
from tests.support.factories import PASSWORD, unique_email
from tests.support.services import fresh_database
from wellcoach.accounts import repository as users
from wellcoach.auth.schemas import RegisterIn
from wellcoach.config import get_settings
from wellcoach.db import migrate
from wellcoach.models.enums import Role
from wellcoach.platform import Platform, run_with_platform
from wellcoach.runtime.services import to_libpq_url

if TYPE_CHECKING:  # imported into a test module, pytest would try to collect the class
    from tests.support.services import TestServices


def user_id(email: str) -> uuid.UUID | None:
    async def work(platform: Platform) -> uuid.UUID | None:
        async with platform.unit_of_work() as session:
            user = await users.get_by_email(session, email)
            return user.id if user else None

    return run_with_platform(work, get_settings())


def test_an_administrator_creates_a_finance_account_that_signs_in(
    dashboard: Dashboard, committed: Committed
) -> None:
    email = unique_email("finance")
    result = CliRunner().invoke(
        cli, ["users", "create", email, "--password", PASSWORD, "--role", "finance", "--json"]
    )
    created = user_id(email)
    if created:
        committed.users.append(created)
    assert result.exit_code == 0, result.output
    assert '"role": "finance"' in result.output

    dashboard.open().login(email, PASSWORD)
    assert dashboard.title() == "Finance"


def test_nobody_signs_up_as_finance() -> None:
    fields = {"email": "f@example.com", "password": PASSWORD, "name": "F", "consents": {}}
    with pytest.raises(ValidationError):
        RegisterIn.model_validate(fields | {"role": Role.finance.value})


def test_the_downgrade_keeps_finance_accounts(services: TestServices) -> None:
    url = fresh_database(services.database_url, "wellcoach_test_finance_role")
    with psycopg.connect(to_libpq_url(url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (id, email, password_hash, role, tier, preferences,"
            " avatar_config) VALUES (%s, 'fin@example.com', 'x', 'finance', 'free', '{}', '{}')",
            (uuid.uuid4(),),
        )
        with pytest.raises(RuntimeError, match="finance role"):
            migrate.downgrade(url, "0005")
        conn.execute("UPDATE users SET role = 'admin'")
        migrate.downgrade(url, "0005")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE users SET role = 'finance'")
