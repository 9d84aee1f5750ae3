"""Typed dependencies: the platform, the request's session and context, the current user."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.audit import RequestContext
from wellcoach.auth.errors import AccountDisabled, EmailNotVerified, InvalidToken
from wellcoach.auth.policy import Subject
from wellcoach.db.base import utcnow
from wellcoach.errors import NotFound
from wellcoach.models import User
from wellcoach.models.enums import Role
from wellcoach.platform import Platform

LAST_ACTIVE_RESOLUTION = timedelta(minutes=1)

bearer = HTTPBearer(auto_error=False, description="The access token from /v1/auth/login.")


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


def get_context(request: Request) -> RequestContext:
    return RequestContext(
        ip_address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        request_id=getattr(request.state, "request_id", None)
        or request.scope.get("state", {}).get("request_id"),
        source="api",
    )


TURNS_RUNNING = Gauge("wellcoach_chat_turns_running", "Chat turns running in this process")
TURNS_QUEUED = Counter(
    "wellcoach_chat_turns_queued_total", "Chat turns handed to a worker", ["reason"]
)


class TurnSlots:
    """How many chat turns this process runs at once. A turn that finds no slot within
    `wait_seconds` goes to the queue (a worker answers it over Socket.IO), so overload
    makes replies later, never errors."""

    def __init__(self, limit: int, wait_seconds: float) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self._free = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def claim(self) -> AsyncIterator[bool]:
        """Yields True while holding a slot, False when none came free in time."""
        if self.limit <= 0 or (self._free.locked() and self.wait_seconds <= 0):
            yield False
            return
        try:
            async with asyncio.timeout(self.wait_seconds):
                await self._free.acquire()
        except TimeoutError:
            yield False
            return
        TURNS_RUNNING.inc()
        try:
            yield True
        finally:
            TURNS_RUNNING.dec()
            self._free.release()


def get_turn_slots(request: Request) -> TurnSlots:
    return request.app.state.turn_slots


PlatformDep = Annotated[Platform, Depends(get_platform)]
TurnSlotsDep = Annotated[TurnSlots, Depends(get_turn_slots)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
ContextDep = Annotated[RequestContext, Depends(get_context)]


async def get_current_user(
    platform: PlatformDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The user of a valid access token; tokens from before a password change are refused."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise InvalidToken("Send `Authorization: Bearer <access token>`.")
    claims = await platform.signer.verify_access(credentials.credentials)
    user = await session.get(User, claims.user_id)
    if user is None or user.deleted_at is not None:
        raise InvalidToken()
    if user.disabled_at is not None:
        raise AccountDisabled()
    if claims.session_epoch != user.session_epoch:
        raise InvalidToken("This session was signed out; log in again.")
    now = utcnow()
    if user.last_active_at is None or now - user.last_active_at > LAST_ACTIVE_RESOLUTION:
        user.last_active_at = now
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_subject(user: CurrentUser) -> Subject:
    return Subject(
        user_id=user.id,
        role=user.role,
        tier=user.tier.value,
        email_verified=user.email_verified_at is not None,
    )


SubjectDep = Annotated[Subject, Depends(get_subject)]


def require_verified(user: CurrentUser) -> User:
    """Chat and health sync need a verified email address."""
    if user.email_verified_at is None:
        raise EmailNotVerified()
    return user


VerifiedUser = Annotated[User, Depends(require_verified)]


def require_coach(user: CurrentUser) -> User:
    if user.role not in (Role.coach, Role.admin):
        raise NotFound()
    return user


CoachUser = Annotated[User, Depends(require_coach)]
