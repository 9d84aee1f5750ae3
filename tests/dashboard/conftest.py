"""The dashboard under Streamlit's AppTest: the app runs in-process, reading its settings
from the environment (`cli_env`) and opening its own platform on each rerun, so what it
must see is committed (accounts, ledger rows) and removed after the test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
import redis
from sqlalchemy import delete, or_
from streamlit.testing.v1 import AppTest

from tests.support.factories import PASSWORD, TEST_CONTEXT, create_user, unique_email
from tests.support.services import TestServices
from wellcoach.auth import service as auth
from wellcoach.config import get_settings
from wellcoach.models import AuditLog, LlmCall, User
from wellcoach.models.enums import Role
from wellcoach.platform import Platform, run_with_platform

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    role: Role
    password: str = PASSWORD
    totp_secret: str | None = None


@dataclass
class Committed:
    """Accounts and ledger rows the app can see, deleted with what they caused (audit
    entries, sessions) when the test ends."""

    users: list[uuid.UUID] = field(default_factory=list)
    calls: list[uuid.UUID] = field(default_factory=list)

    def account(self, role: Role, *, two_factor: bool = False, name: str = "Test") -> Account:
        async def work(platform: Platform) -> Account:
            async with platform.unit_of_work() as session:
                user = await create_user(
                    session, platform, email=unique_email(role.value), role=role, name=name
                )
                secret = None
                if two_factor:
                    secret, _ = await auth.totp_enroll(session, platform, user)
                    # the previous 30-second step: the login's code must differ from it
                    earlier = datetime.now(UTC) - timedelta(seconds=30)
                    await auth.totp_confirm(
                        session,
                        platform,
                        user,
                        pyotp.TOTP(secret).at(earlier),
                        context=TEST_CONTEXT,
                    )
                return Account(user.id, user.email, role, totp_secret=secret)

        account = run_with_platform(work, get_settings())
        self.users.append(account.id)
        return account

    def ledger(self, rows: list[LlmCall]) -> None:
        async def work(platform: Platform) -> None:
            async with platform.unit_of_work() as session:
                session.add_all(rows)

        run_with_platform(work, get_settings())
        self.calls.extend(row.id for row in rows)

    def clean(self) -> None:
        async def work(platform: Platform) -> None:
            async with platform.unit_of_work() as session:
                await session.execute(delete(LlmCall).where(LlmCall.id.in_(self.calls)))
                await session.execute(
                    delete(AuditLog).where(
                        or_(AuditLog.user_id.in_(self.users), AuditLog.actor_id.in_(self.users))
                    )
                )
                await session.execute(delete(User).where(User.id.in_(self.users)))

        run_with_platform(work, get_settings())


@pytest.fixture
def dashboard_env(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, services: TestServices
) -> Iterator[None]:
    """The CLI's environment, cheap password hashes, and a Redis without the login
    counters of earlier tests (every AppTest login comes from the same address)."""
    monkeypatch.setenv("WELLCOACH_AUTH__BCRYPT_ROUNDS", "4")
    get_settings.cache_clear()
    client = redis.Redis.from_url(services.redis_url)
    client.flushdb()
    yield
    client.flushdb()
    client.close()


@pytest.fixture
def committed(dashboard_env: None) -> Iterator[Committed]:
    made = Committed()
    yield made
    made.clean()


@dataclass
class Dashboard:
    """The app under AppTest, with what a person does and reads on it."""

    at: AppTest

    def open(self) -> Dashboard:
        self.at.run()
        return self

    def text(self) -> str:
        """Everything a person reads on the page, as one string."""
        kinds = ("title", "subheader", "markdown", "caption", "info", "error", "warning")
        return "\n".join(str(element.value) for kind in kinds for element in self.at.get(kind))

    def login(self, email: str, password: str) -> Dashboard:
        self.at.text_input(key="login_email").input(email)
        self.at.text_input(key="login_password").input(password)
        self.at.button(key="login_submit").click().run()
        return self

    def sign_in(self, account: Account) -> Dashboard:
        return self.open().login(account.email, account.password)

    @property
    def on_login_page(self) -> bool:
        return any(widget.key == "login_email" for widget in self.at.text_input)

    def go_to(self, page: str) -> Dashboard:
        """Open one of the viewer's pages (`views/finance.py`); ValueError when the
        viewer's navigation has no such page."""
        self.at.switch_page(page).run()
        return self

    def title(self) -> str:
        return str(self.at.title[0].value) if self.at.title else ""


@pytest.fixture
def dashboard(dashboard_env: None) -> Dashboard:
    return Dashboard(AppTest.from_file(str(APP), default_timeout=60))
