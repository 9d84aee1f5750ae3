"""Signing in to the dashboard through the core: credentials, 2FA, pages by role,
sign-out and expiry."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from dashboard.auth import SESSION_KEY, SignedIn
from tests.dashboard.conftest import Committed, Dashboard
from wellcoach.config import get_settings
from wellcoach.models import AuditLog
from wellcoach.models.enums import Role
from wellcoach.platform import Platform, run_with_platform


def audited(user_id: uuid.UUID, action: str) -> list[dict]:
    """The details of the user's audit entries of one action, oldest first."""

    async def work(platform: Platform) -> list[dict]:
        async with platform.unit_of_work() as session:
            rows = await session.scalars(
                select(AuditLog)
                .where(AuditLog.user_id == user_id, AuditLog.action == action)
                .order_by(AuditLog.created_at)
            )
            return [row.details for row in rows]

    return run_with_platform(work, get_settings())


def test_the_login_page_is_all_a_visitor_sees(dashboard: Dashboard) -> None:
    dashboard.open()
    assert dashboard.on_login_page
    assert "wellcoach" in dashboard.title()
    with pytest.raises(ValueError):
        dashboard.go_to("views/status.py")


def test_wrong_credentials_are_refused_and_counted_by_the_core(
    dashboard: Dashboard, committed: Committed
) -> None:
    admin = committed.account(Role.admin)

    dashboard.open().login(admin.email, "not the password")

    assert dashboard.on_login_page
    assert "The email or password is wrong." in [e.value for e in dashboard.at.error]
    assert SESSION_KEY not in dashboard.at.session_state
    with pytest.raises(ValueError):
        dashboard.go_to("views/status.py")
    assert audited(admin.id, "auth.login_failed") == [
        {"source": "dashboard", "reason": "bad_credentials"}
    ]
    assert audited(admin.id, "auth.login") == []


def test_failed_logins_share_the_platforms_limits(
    dashboard: Dashboard, committed: Committed
) -> None:
    admin = committed.account(Role.admin)
    dashboard.open()
    for _ in range(5):
        dashboard.login(admin.email, "not the password")

    dashboard.login(admin.email, admin.password)  # the right password, too late

    assert dashboard.on_login_page
    assert any("Too many attempts" in e.value for e in dashboard.at.error)


def test_finance_sees_finance_but_not_platform_status(
    dashboard: Dashboard, committed: Committed
) -> None:
    finance = committed.account(Role.finance, name="Fran Finance")

    dashboard.sign_in(finance)

    assert not dashboard.on_login_page
    assert dashboard.title() == "Finance"
    assert "Fran Finance" in [m.value.strip("*") for m in dashboard.at.sidebar.markdown]
    with pytest.raises(ValueError):
        dashboard.go_to("views/status.py")
    assert audited(finance.id, "auth.login") == [{"source": "dashboard", "second_factor": False}]


def test_an_admin_sees_platform_status_and_finance(
    dashboard: Dashboard, committed: Committed
) -> None:
    admin = committed.account(Role.admin)

    dashboard.sign_in(admin)
    assert dashboard.title() == "Platform status"
    assert [m.label for m in dashboard.at.metric][:3] == ["PostgreSQL", "pgvector", "Redis"]
    assert dashboard.at.metric[0].value == "OK"

    dashboard.go_to("views/finance.py")
    assert dashboard.title() == "Finance"


@pytest.mark.parametrize(
    ("role", "landing"), [(Role.coach, "Escalation queue"), (Role.team_manager, "Team overview")]
)
def test_coaches_and_managers_land_on_their_pages(
    dashboard: Dashboard, committed: Committed, role: Role, landing: str
) -> None:
    dashboard.sign_in(committed.account(role))

    assert dashboard.title() == landing
    for page in ("views/status.py", "views/finance.py"):
        with pytest.raises(ValueError):
            dashboard.go_to(page)


def test_an_athlete_is_told_the_dashboard_is_not_for_them(
    dashboard: Dashboard, committed: Committed
) -> None:
    dashboard.sign_in(committed.account(Role.athlete))

    assert dashboard.title() == "The dashboard is not for athletes"
    assert "wellcoach app" in dashboard.text()
    for page in ("views/status.py", "views/finance.py", "views/queue.py", "views/team.py"):
        with pytest.raises(ValueError):
            dashboard.go_to(page)


def test_two_factor_is_asked_when_the_account_has_it(
    dashboard: Dashboard, committed: Committed
) -> None:
    admin = committed.account(Role.admin, two_factor=True)
    assert admin.totp_secret is not None

    dashboard.sign_in(admin)
    assert dashboard.on_login_page is False
    assert "Two-factor authentication is on" in dashboard.text()
    assert SESSION_KEY not in dashboard.at.session_state

    dashboard.at.text_input(key="login_code").input("000000")
    dashboard.at.button(key="login_verify").click().run()
    assert any("code is wrong" in e.value for e in dashboard.at.error)

    dashboard.at.text_input(key="login_code").input(pyotp.TOTP(admin.totp_secret).now())
    dashboard.at.button(key="login_verify").click().run()
    assert dashboard.title() == "Platform status"
    assert audited(admin.id, "auth.login") == [{"source": "dashboard", "second_factor": True}]
    assert audited(admin.id, "auth.login_failed") == [
        {"source": "dashboard", "reason": "bad_second_factor"}
    ]


def test_signing_out_returns_to_the_login_page_and_ends_the_login(
    dashboard: Dashboard, committed: Committed
) -> None:
    admin = committed.account(Role.admin)
    dashboard.sign_in(admin)
    assert dashboard.title() == "Platform status"

    dashboard.at.button(key="sign_out").click().run()

    assert dashboard.on_login_page
    assert "You have signed out." in dashboard.text()
    assert SESSION_KEY not in dashboard.at.session_state
    assert audited(admin.id, "auth.logout") == [{"source": "dashboard"}]
    dashboard.at.run()  # the notice is said once
    assert "You have signed out." not in dashboard.text()


def test_an_expired_session_returns_to_the_login_page(
    dashboard: Dashboard, committed: Committed
) -> None:
    admin = committed.account(Role.admin)
    dashboard.sign_in(admin)
    assert dashboard.title() == "Platform status"
    signed: SignedIn = dashboard.at.session_state[SESSION_KEY]

    # the same login's access token as the core issues it once its TTL has passed
    expired_settings = get_settings().model_copy(
        update={"auth": get_settings().auth.model_copy(update={"access_ttl_seconds": 0})}
    )

    async def expired_token(platform: Platform) -> str:
        claims = await platform.signer.verify_access(signed.access_token)
        token, _ = await platform.signer.issue_access(
            admin.id, "admin", "free", claims.session_epoch, claims.family_id
        )
        return token

    token = run_with_platform(expired_token, expired_settings)
    dashboard.at.session_state[SESSION_KEY] = dataclasses.replace(
        signed, access_token=token, expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    dashboard.at.run()

    assert dashboard.on_login_page
    assert "Your session has expired: sign in again." in dashboard.text()
    assert SESSION_KEY not in dashboard.at.session_state
    assert audited(admin.id, "auth.logout") == [{"source": "dashboard"}]  # the login is revoked
