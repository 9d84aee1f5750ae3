"""Units of work inside a test's outer transaction: each request or job gets its own
session, as in production, and everything is rolled back when the test ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from wellcoach.db.session import Units, finish_failed


def savepoint_units(bind: AsyncConnection) -> Units:
    """Sessions on `bind` (the test's connection) that commit to a savepoint."""

    @asynccontextmanager
    async def unit() -> AsyncIterator[AsyncSession]:
        session = AsyncSession(
            bind=bind, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
            await session.commit()
        except BaseException as exc:
            await finish_failed(session, exc)
            raise
        finally:
            await session.close()

    return unit
