"""GDPR retention: expired monthly partitions of messages are dropped whole (their rows
counted first), old rows of the default partition, old audit entries (when a period is
set) and old sent or failed emails are deleted; recent data stays; a dry run counts and
changes nothing; `wellcoach gdpr retention` prints what it removed.

The database lives for the whole run: the core tests work in 2001 (a rolled-back
transaction, partition DDL included) with `now` chosen so the cutoffs fall just after
their old rows and long before anything other tests write; the CLI test commits its rows
in 2002 and removes them in the end."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import typer
from sqlalchemy import delete, func, select, text
from typer.testing import CliRunner

from cli.retention import retention_command
from tests.support.factories import create_user
from wellcoach.config import GdprSettings
from wellcoach.gdpr.retention import apply_retention
from wellcoach.models import AuditLog, ChatSession, EmailOutbox, Message, User
from wellcoach.models.enums import DeliveryStatus, MessageStatus, MessageType

runner = CliRunner()
# messages: a cutoff on 2001-06-01; audit: 2002-05-31; outbox: 2003-05-01
NOW = datetime(2001, 6, 1, tzinfo=UTC) + timedelta(days=730)
SETTINGS = GdprSettings(retention_audit_days=365)


def month_name(year: int, month: int) -> str:
    return f"messages_p{year:04d}_{month:02d}"


async def make_month(session, year: int, month: int) -> str:
    name = month_name(year, month)
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    await session.execute(
        text(
            f"CREATE TABLE {name} PARTITION OF messages "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
    )
    return name


async def add_message(session, platform, chat: ChatSession, at: datetime) -> None:
    session.add(
        Message(
            session_id=chat.id,
            user_id=chat.user_id,
            created_at=at,
            type=MessageType.user,
            status=MessageStatus.sent,
            content_encrypted=await platform.vault.seal_text(
                session, chat.user_id, "an old message", purpose="message"
            ),
        )
    )
    await session.flush()


async def add_email(session, user: User, status: DeliveryStatus, at: datetime) -> None:
    session.add(
        EmailOutbox(
            user_id=user.id,
            to_address=user.email,
            template="verify_email",
            subject="Verify",
            body="body",
            status=status,
            created_at=at,
        )
    )
    await session.flush()


async def exists(session, name: str) -> bool:
    return await session.scalar(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name})


async def count(session, model, *conditions) -> int:
    return await session.scalar(select(func.count()).select_from(model).where(*conditions))


async def old_and_recent(session, platform) -> User:
    """Expired: a March 2001 partition (3 messages), 2 default-partition messages of May,
    an audit entry of 2001, a sent and a failed email of 2001. Kept: a July 2001
    partition (1 message), a default-partition message of June, an audit entry of 2003,
    a pending email of 2001 and a sent one of 10 days before `NOW`."""
    user = await create_user(session, platform)
    chat = ChatSession(user_id=user.id, started_at=datetime(2001, 3, 1, tzinfo=UTC))
    session.add(chat)
    await session.flush()
    await make_month(session, 2001, 3)
    await make_month(session, 2001, 7)
    for day in (2, 15, 31):
        await add_message(session, platform, chat, datetime(2001, 3, day, 12, tzinfo=UTC))
    await add_message(session, platform, chat, datetime(2001, 5, 10, tzinfo=UTC))
    await add_message(session, platform, chat, datetime(2001, 5, 31, 23, tzinfo=UTC))
    await add_message(session, platform, chat, datetime(2001, 6, 20, tzinfo=UTC))
    await add_message(session, platform, chat, datetime(2001, 7, 4, tzinfo=UTC))
    for at, action in ((datetime(2001, 2, 1, tzinfo=UTC), "test.old"), (NOW, "test.recent")):
        session.add(AuditLog(action=action, user_id=user.id, created_at=at))
    await add_email(session, user, DeliveryStatus.sent, datetime(2001, 1, 5, tzinfo=UTC))
    await add_email(session, user, DeliveryStatus.failed, datetime(2001, 1, 6, tzinfo=UTC))
    await add_email(session, user, DeliveryStatus.pending, datetime(2001, 1, 7, tzinfo=UTC))
    await add_email(session, user, DeliveryStatus.sent, NOW - timedelta(days=10))
    await session.flush()
    return user


EXPECTED = {
    "message_partitions_dropped": 1,
    "messages_deleted": 5,
    "audit_logs_deleted": 1,
    "emails_deleted": 2,
}


async def test_expired_data_goes_and_recent_data_stays(db_session, platform):
    user = await old_and_recent(db_session, platform)

    counts = await apply_retention(db_session, SETTINGS, now=NOW)

    # the cutoffs fall in 2001-2003: only this test's rows are that old
    assert counts == EXPECTED
    assert not await exists(db_session, month_name(2001, 3))
    assert await exists(db_session, month_name(2001, 7))
    kept = await db_session.scalars(
        select(Message.created_at).where(Message.user_id == user.id).order_by(Message.created_at)
    )
    assert list(kept) == [datetime(2001, 6, 20, tzinfo=UTC), datetime(2001, 7, 4, tzinfo=UTC)]
    actions = set(
        await db_session.scalars(select(AuditLog.action).where(AuditLog.user_id == user.id))
    )
    assert "test.old" not in actions and "test.recent" in actions
    emails = await db_session.scalars(
        select(EmailOutbox.status).where(EmailOutbox.user_id == user.id)
    )
    assert sorted(emails) == [DeliveryStatus.pending, DeliveryStatus.sent]

    entry = await db_session.scalar(
        select(AuditLog)
        .where(AuditLog.action == "retention.applied")
        .order_by(AuditLog.created_at.desc())
        .limit(1)
    )
    assert entry is not None and entry.user_id is None
    assert {key: entry.details[key] for key in EXPECTED} == EXPECTED
    assert entry.details["source"] == "system"
    assert entry.details["messages_before"].startswith("2001-06-01")

    # applied again: nothing left to remove
    assert await apply_retention(db_session, SETTINGS, now=NOW) == dict.fromkeys(EXPECTED, 0)


async def test_audit_entries_are_kept_without_a_period(db_session, platform):
    user = await create_user(db_session, platform)
    db_session.add(
        AuditLog(action="test.old", user_id=user.id, created_at=datetime(2001, 2, 1, tzinfo=UTC))
    )
    await db_session.flush()

    counts = await apply_retention(db_session, GdprSettings(), now=NOW)

    assert counts["audit_logs_deleted"] == 0
    assert (
        await count(
            db_session, AuditLog, AuditLog.user_id == user.id, AuditLog.action == "test.old"
        )
        == 1
    )


async def test_a_dry_run_counts_and_changes_nothing(db_session, platform):
    user = await old_and_recent(db_session, platform)
    applied_before = await count(db_session, AuditLog, AuditLog.action == "retention.applied")

    counts = await apply_retention(db_session, SETTINGS, now=NOW, dry_run=True)

    assert counts == EXPECTED
    assert await exists(db_session, month_name(2001, 3))
    assert await count(db_session, Message, Message.user_id == user.id) == 7
    assert await count(db_session, AuditLog, AuditLog.action == "test.old") == 1
    assert await count(db_session, EmailOutbox, EmailOutbox.user_id == user.id) == 4
    assert await count(db_session, AuditLog, AuditLog.action == "retention.applied") == (
        applied_before
    )


def gdpr_cli() -> typer.Typer:
    """`wellcoach gdpr retention` as the lead registers it."""
    app = typer.Typer()

    @app.callback()
    def gdpr() -> None:
        """GDPR."""

    app.command("retention")(retention_command)
    return app


async def test_the_cli_prints_what_it_removed(cli_env, platform):
    # committed, for the CLI's own platform; with the real clock and the default periods
    # the cutoffs are about two years and 30 days ago: this test's 2002 rows go
    cli = gdpr_cli()
    old_month = month_name(2002, 3)
    async with platform.unit_of_work() as session:
        user = await create_user(session, platform)
        chat = ChatSession(user_id=user.id, started_at=datetime(2002, 3, 1, tzinfo=UTC))
        session.add(chat)
        await session.flush()
        await make_month(session, 2002, 3)
        for day in (1, 2):
            await add_message(session, platform, chat, datetime(2002, 3, day, tzinfo=UTC))
        await add_message(session, platform, chat, datetime(2002, 5, 1, tzinfo=UTC))
        await add_email(session, user, DeliveryStatus.sent, datetime(2002, 1, 1, tzinfo=UTC))
    try:
        dry = await asyncio.to_thread(runner.invoke, cli, ["retention", "--dry-run", "--json"])
        assert dry.exit_code == 0, dry.output
        would = json.loads(dry.stdout)
        assert would["dry_run"] is True
        assert would["message_partitions_dropped"] >= 1 and would["messages_deleted"] >= 3
        assert would["emails_deleted"] >= 1
        async with platform.unit_of_work() as session:
            assert await exists(session, old_month)

        done = await asyncio.to_thread(runner.invoke, cli, ["retention", "--json"])
        assert done.exit_code == 0, done.output
        removed = json.loads(done.stdout)
        assert removed["message_partitions_dropped"] >= 1 and removed["messages_deleted"] >= 3
        assert removed["emails_deleted"] >= 1
        async with platform.unit_of_work() as session:
            assert not await exists(session, old_month)
            assert await count(session, Message, Message.user_id == user.id) == 0
            assert await count(session, EmailOutbox, EmailOutbox.user_id == user.id) == 0
            entry = await session.scalar(
                select(AuditLog)
                .where(AuditLog.action == "retention.applied")
                .order_by(AuditLog.created_at.desc())
                .limit(1)
            )
            assert entry is not None
            assert entry.details["message_partitions_dropped"] >= 1

        table = await asyncio.to_thread(runner.invoke, cli, ["retention", "--dry-run"])
        assert table.exit_code == 0, table.output
        assert "message partitions dropped" in table.stdout
        assert "nothing was removed" in table.stdout
    finally:
        async with platform.unit_of_work() as session:
            await session.execute(delete(User).where(User.id == user.id))
            await session.execute(text(f"DROP TABLE IF EXISTS {old_month}"))
