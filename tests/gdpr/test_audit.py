"""A person's audit trail, and reads of personal data by others landing in it.

`entries_about` finds the entries about the user and by the user, newest first, with a
limit and an action prefix; `wellcoach audit show` prints them (table or JSON) and is
itself audited (`audit.viewed`, source cli). The admin commands that show someone's
personal data are audited too: `users show` (`profile.read`), `users list`
(`profile.listed`), `limits show` (`ratelimit.usage_read`), `mail outbox`
(`email.viewed`)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from typer.testing import CliRunner

import cli.audit
from cli.main import app as main_cli
from tests.support.factories import create_user
from wellcoach.access import Subject
from wellcoach.accounts.service import list_accounts
from wellcoach.audit import RequestContext
from wellcoach.audit.queries import entries_about, read_entries_about
from wellcoach.errors import Forbidden
from wellcoach.models import AuditLog, EmailOutbox, User
from wellcoach.models.enums import DeliveryStatus, Role

runner = CliRunner()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def add_entry(session, action: str, at: datetime, **fields) -> None:
    session.add(AuditLog(action=action, created_at=at, details={"source": "api"}, **fields))


async def test_entries_about_and_by_the_user_newest_first(db_session, platform):
    user = await create_user(db_session, platform)
    other = await create_user(db_session, platform)
    coach = await create_user(db_session, platform, role=Role.coach)
    add_entry(
        db_session, "profile.read", T0 + timedelta(hours=1), user_id=user.id, actor_id=coach.id
    )
    add_entry(
        db_session, "profile.update", T0 + timedelta(hours=2), user_id=user.id, actor_id=user.id
    )
    add_entry(db_session, "auth.login", T0 + timedelta(hours=3), user_id=user.id, actor_id=user.id)
    # by the user about someone else (a coach would be the usual case; the query is blind)
    add_entry(
        db_session, "profile.read", T0 + timedelta(hours=4), user_id=other.id, actor_id=user.id
    )
    add_entry(db_session, "profile_x.read", T0 + timedelta(hours=5), user_id=user.id)
    add_entry(
        db_session, "profile.read", T0 + timedelta(hours=6), user_id=other.id, actor_id=coach.id
    )
    await db_session.flush()

    # (registering wrote entries of today's date too)
    found = await entries_about(db_session, user.id, limit=100)
    mine = [e for e in found if T0 <= e.created_at < T0 + timedelta(days=1)]
    assert [(e.action, e.created_at - T0) for e in mine] == [
        ("profile_x.read", timedelta(hours=5)),
        ("profile.read", timedelta(hours=4)),
        ("auth.login", timedelta(hours=3)),
        ("profile.update", timedelta(hours=2)),
        ("profile.read", timedelta(hours=1)),
    ]
    # "_" is not a wildcard in the prefix
    profile = await entries_about(db_session, user.id, limit=100, action_prefix="profile.")
    assert [e.action for e in profile] == ["profile.read", "profile.update", "profile.read"]
    assert len(await entries_about(db_session, user.id, limit=2)) == 2
    assert await entries_about(db_session, uuid.uuid4(), limit=10) == []


async def test_reading_the_trail_is_audited(db_session, platform):
    user = await create_user(db_session, platform)
    admin = Subject(user_id=uuid.uuid4(), role=Role.admin)
    context = RequestContext(ip_address="10.0.0.9", source="cli")

    first = await read_entries_about(
        db_session, user.id, limit=5, action_prefix="auth.", context=context, actor_id=admin.user_id
    )
    assert all(e.action.startswith("auth.") for e in first)
    (viewed,) = await entries_about(db_session, user.id, limit=10, action_prefix="audit.viewed")
    assert (viewed.user_id, viewed.actor_id, viewed.resource_type) == (
        user.id,
        admin.user_id,
        "audit_log",
    )
    assert viewed.details == {
        "source": "cli",
        "entries": len(first),
        "limit": 5,
        "action_prefix": "auth.",
    }


async def test_only_administrators_list_accounts(db_session, platform):
    user = await create_user(db_session, platform)
    context = RequestContext(source="test")
    try:
        await list_accounts(
            db_session, Subject(user.id, Role.coach), role=None, limit=5, context=context
        )
    except Forbidden:
        pass
    else:
        raise AssertionError("a coach listed the accounts")


async def committed(platform, **fields) -> User:
    async with platform.unit_of_work() as session:
        return await create_user(session, platform, **fields)


async def forget(platform, *users: User) -> None:
    """The committed users, their emails and the audit entries about them or by them."""
    ids = [user.id for user in users]
    async with platform.unit_of_work() as session:
        await session.execute(
            delete(AuditLog).where(AuditLog.user_id.in_(ids) | AuditLog.actor_id.in_(ids))
        )
        await session.execute(delete(User).where(User.id.in_(ids)))


async def entries(platform, user: User, action: str) -> list[AuditLog]:
    async with platform.unit_of_work() as session:
        return list(
            await session.scalars(
                select(AuditLog)
                .where(AuditLog.user_id == user.id, AuditLog.action == action)
                .order_by(AuditLog.created_at)
            )
        )


async def run(app, *args: str):
    """The CLI runs its own event loop: in a thread, beside the test's."""
    return await asyncio.to_thread(runner.invoke, app, list(args))


async def test_audit_show_prints_the_trail_and_is_audited(cli_env, platform):
    user = await committed(platform)
    admin = await committed(platform, role=Role.admin)
    async with platform.unit_of_work() as session:
        session.add(
            AuditLog(
                action="profile.read",
                user_id=user.id,
                actor_id=admin.id,
                resource_type="user",
                resource_id=str(user.id),
                ip_address="192.0.2.7",
                details={"source": "api", "actor_role": "admin"},
            )
        )
    try:
        result = await run(cli.audit.app, "show", str(user.id), "--json")
        assert result.exit_code == 0, result.output
        rows = json.loads(result.stdout)
        assert [row["time"] for row in rows] == sorted((row["time"] for row in rows), reverse=True)
        read = next(row for row in rows if row["action"] == "profile.read")
        assert (read["actor_id"], read["actor_role"], read["source"]) == (
            str(admin.id),
            "admin",
            "api",
        )
        assert (read["resource_type"], read["resource_id"]) == ("user", str(user.id))
        assert read["ip_address"] == "192.0.2.7"
        assert "source" not in read["details"]
        assert "audit.viewed" not in {row["action"] for row in rows}  # recorded after reading

        (viewed,) = await entries(platform, user, "audit.viewed")
        assert viewed.details["source"] == "cli" and viewed.actor_id is None
        assert viewed.details["entries"] == len(rows)

        # by email, a prefix and a limit; a table
        filtered = await run(
            cli.audit.app, "show", user.email, "--action", "audit.", "--limit", "1", "--json"
        )
        assert filtered.exit_code == 0, filtered.output
        assert [row["action"] for row in json.loads(filtered.stdout)] == ["audit.viewed"]
        table = await run(cli.audit.app, "show", str(user.id))
        assert table.exit_code == 0, table.output
        assert "profile.read" in table.stdout and "entries" in table.stdout
        assert len(await entries(platform, user, "audit.viewed")) == 3

        # the trail of an erased account is read by its id; an unknown email is an error
        gone = await run(cli.audit.app, "show", str(uuid.uuid4()))
        assert gone.exit_code == 0 and "no audit entries" in gone.stdout
        missing = await run(cli.audit.app, "show", "nobody-at-all@example.com")
        assert missing.exit_code == 3 and "not_found" in missing.stderr
    finally:
        await forget(platform, user, admin)


async def test_admin_commands_that_show_personal_data_are_audited(cli_env, platform):
    user = await committed(platform)
    async with platform.unit_of_work() as session:
        session.add(
            EmailOutbox(
                user_id=user.id,
                to_address=user.email,
                template="verify_email",
                subject="Verify",
                body="body",
                status=DeliveryStatus.sent,
            )
        )
    try:
        shown = await run(main_cli, "users", "show", user.email, "--json")
        assert shown.exit_code == 0, shown.output
        (read,) = await entries(platform, user, "profile.read")
        assert read.details == {"source": "cli", "actor_role": "admin"} and read.actor_id is None

        listed = await run(main_cli, "users", "list", "--limit", "10000", "--json")
        assert listed.exit_code == 0, listed.output
        assert user.email in {row["email"] for row in json.loads(listed.stdout)}
        (in_list,) = await entries(platform, user, "profile.listed")
        assert in_list.details == {"source": "cli", "actor_role": "admin"}

        limits = await run(main_cli, "limits", "show", str(user.id), "--json")
        assert limits.exit_code == 0, limits.output
        (usage,) = await entries(platform, user, "ratelimit.usage_read")
        assert usage.details == {"source": "cli"}

        outbox = await run(main_cli, "mail", "outbox", "--to", user.email, "--json")
        assert outbox.exit_code == 0, outbox.output
        assert [row["to"] for row in json.loads(outbox.stdout)] == [user.email]
        (email,) = await entries(platform, user, "email.viewed")
        assert email.details == {"source": "cli", "emails_shown": 1}
        assert user.email not in json.dumps(email.details)
    finally:
        await forget(platform, user)
