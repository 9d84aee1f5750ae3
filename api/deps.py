"""Typed dependencies: the platform, a request-scoped session that commits on success."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.platform import Platform


def get_platform(request: Request) -> Platform:
    return request.app.state.platform


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The adapter owns the transaction: commit when the route returns, else roll back."""
    override = getattr(request.app.state, "session_override", None)
    if override is not None:
        async with override() as session:
            yield session
        return
    platform: Platform = request.app.state.platform
    async with platform.unit_of_work() as session:
        yield session


PlatformDep = Annotated[Platform, Depends(get_platform)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
