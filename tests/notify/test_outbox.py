"""The outbox as the development mailbox, and delivery when the SMTP server is down."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.factories import unique_email
from wellcoach.models.enums import DeliveryStatus
from wellcoach.notify.email import deliver_pending, list_outbox, queue_email

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
