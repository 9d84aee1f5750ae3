"""Engine and unit of work.

The adapter that starts a piece of work owns its transaction: `unit_of_work`
commits on success and rolls back on error; core services only flush.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import CursorResult, Executable, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from wellcoach.config import DatabaseSettings
from wellcoach.errors import WellcoachError

# where sessions come from: each call opens a unit of work, a session that commits when
# its block ends and rolls back on error (`Platform.unit_of_work`; tests bind theirs to a
# transaction they roll back)
Units = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class Database:
    """One engine and its session factory, created per process (never across a fork)."""

    def __init__(self, url: str, settings: DatabaseSettings | None = None) -> None:
        settings = settings or DatabaseSettings()
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            pool_timeout=settings.pool_timeout_seconds,
            pool_pre_ping=True,
            # statement parameters hold what users sent: never in an exception's message
            hide_parameters=True,
            connect_args={
                "connect_timeout": max(1, int(settings.connect_timeout_seconds)),
                # UTC sessions: monthly partitions are bounded by UTC months, whatever
                # the server's own time zone
                "options": f"-c statement_timeout={settings.statement_timeout_ms} -c timezone=UTC",
            },
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


@asynccontextmanager
async def unit_of_work(database: Database) -> AsyncIterator[AsyncSession]:
    """A session whose work is committed together, or not at all."""
    async with database.sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException as exc:
            await finish_failed(session, exc)
            raise


async def finish_failed(session: AsyncSession, exc: BaseException) -> None:
    """Roll back, unless the error says what was done before it must be kept."""
    if isinstance(exc, WellcoachError) and exc.keep_changes:
        await session.commit()
    else:
        await session.rollback()


async def rows_affected(session: AsyncSession, statement: Executable) -> int:
    """Run an UPDATE or DELETE and count the rows it touched (the driver's rowcount)."""
    result = await session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount or 0
