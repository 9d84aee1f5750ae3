"""Every revocation of a user's sessions is announced to the API processes, and only once
the transaction that revokes commits (a rolled-back one announces nothing)."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.support.factories import TEST_CONTEXT, create_user
from wellcoach.auth import admin, refresh
from wellcoach.notify.devices import SESSIONS_CHANNEL, SessionsEnded
from wellcoach.runtime.services import to_libpq_url


@pytest.fixture
async def announcements(services):
    """A LISTEN connection on the channel the API processes listen on."""
    conn = await psycopg.AsyncConnection.connect(
        to_libpq_url(services.database_url), autocommit=True
    )
    await conn.execute(f"LISTEN {SESSIONS_CHANNEL}")
    yield conn
    await conn.close()


async def next_announcement(conn) -> SessionsEnded | None:
    async for note in conn.notifies(timeout=5, stop_after=1):
        return SessionsEnded.decode(note.payload)
    return None


async def test_revocations_are_announced_on_commit_only(announcements, platform):
    async with platform.unit_of_work() as session:
        user = await create_user(session, platform)
        family = (await refresh.issue(session, user.id, 3600, TEST_CONTEXT)).record.family_id

    with pytest.raises(RuntimeError):
        async with platform.unit_of_work() as session:
            await admin.set_disabled(
                session, await admin.find_user(session, user.email), True, TEST_CONTEXT
            )
            raise RuntimeError("rolled back after the revocation")
    # announcements arrive in commit order, so the first one is the committed one below
    async with platform.unit_of_work() as session:
        await refresh.revoke_family(session, family, reason="logout")
    assert await next_announcement(announcements) == SessionsEnded(user.id, "logout", family)

    async with platform.unit_of_work() as session:
        assert await refresh.revoke_family(session, family, reason="logout") == 0
        await refresh.revoke_all(session, user.id, reason="password_change")
    # an already revoked family announces nothing; revoking everything always does
    assert await next_announcement(announcements) == SessionsEnded(user.id, "password_change")


async def test_a_family_is_revoked_once_revoke_family_ran(db_session, platform):
    user = await create_user(db_session, platform)
    issued = await refresh.issue(db_session, user.id, 3600, TEST_CONTEXT)
    rotated = await refresh.rotate(db_session, issued.token, 3600, TEST_CONTEXT)
    assert not await refresh.family_revoked(db_session, issued.record.family_id)
    assert not await refresh.family_revoked(db_session, uuid.uuid4())  # not committed yet
    await refresh.revoke_family(db_session, rotated.record.family_id, reason="logout")
    assert await refresh.family_revoked(db_session, issued.record.family_id)


def test_malformed_announcements_are_ignored():
    assert SessionsEnded.decode("not json") is None
    assert SessionsEnded.decode('{"user_id": "nope", "reason": "x"}') is None
