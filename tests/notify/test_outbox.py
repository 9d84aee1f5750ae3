"""The outbox as the development mailbox, and delivery when the SMTP server is down."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.factories import unique_email
from wellcoach.db.base import utcnow
from wellcoach.models.enums import DeliveryStatus
from wellcoach.notify.email import (
    FORGOTTEN,
    SECRET_LIFETIME,
    deliver_pending,
    forget_secrets,
    list_outbox,
    queue_email,
)

# nothing listens on port 1
DOWN = "smtp://127.0.0.1:1"


async def test_list_outbox_is_newest_first_and_filters_by_address(db_session: AsyncSession) -> None:
    to = unique_email()
    first = await queue_email(db_session, to=to, template="verify_email", link="l", token="t")
    second = await queue_email(db_session, to=to, template="password_changed", language="it")
    await queue_email(db_session, to=unique_email(), template="already_registered")

    listed = await list_outbox(db_session, to=to.upper())
    assert [row.id for row in listed] == [second.id, first.id]
    assert listed[0].subject.startswith("La tua password")
    assert [row.id for row in await list_outbox(db_session, to=to, limit=1)] == [second.id]


async def test_undeliverable_email_stays_pending_until_the_last_attempt(
    db_session: AsyncSession,
) -> None:
    row = await queue_email(db_session, to=unique_email(), template="already_registered")
    # a batch large enough for rows other runs left pending: ours is the newest
    await deliver_pending(db_session, DOWN, batch=10_000)
    assert (row.status, row.attempts) == (DeliveryStatus.pending, 1)
    assert row.last_error is not None  # the exception's class name, never its text
    row.attempts = 7
    await db_session.flush()
    await deliver_pending(db_session, DOWN, batch=10_000)
    assert (row.status, row.attempts) == (DeliveryStatus.failed, 8)
    assert row.sent_at is None


async def test_one_time_links_leave_the_outbox_once_expired(db_session: AsyncSession) -> None:
    """The development mailbox keeps a verify/reset link only while it can be used; other
    emails are kept as they are."""
    to = unique_email()
    link = await queue_email(db_session, to=to, template="verify_email", link="L", token="tok")
    notice = await queue_email(db_session, to=to, template="password_changed")
    assert "tok" in link.body
    await forget_secrets(db_session)
    await db_session.refresh(link)
    assert "tok" in link.body  # still usable: kept
    later = utcnow() + SECRET_LIFETIME + timedelta(minutes=1)
    assert await forget_secrets(db_session, now=later) >= 1
    await db_session.refresh(link)
    await db_session.refresh(notice)
    assert link.body == FORGOTTEN and "tok" not in link.body
    assert notice.body != FORGOTTEN
