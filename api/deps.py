"""Typed dependencies: the platform, the request's session and context, the current user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.access import Subject
from wellcoach.audit import RequestContext
from wellcoach.auth.access import authenticate
from wellcoach.auth.errors import EmailNotVerified, InvalidToken
from wellcoach.chat.turns import ChatJobs, Turns
from wellcoach.db.base import utcnow
from wellcoach.db.session import Units
from wellcoach.errors import NotFound, WellcoachError
from wellcoach.models import User
from wellcoach.models.enums import Role
from wellcoach.platform import Platform

LAST_ACTIVE_RESOLUTION = timedelta(minutes=1)

bearer = HTTPBearer(auto_error=False, description="The access token from /v1/auth/login.")


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The adapter owns the transaction: commit when the route returns, else roll back."""
    units: Units = request.app.state.units
    async with units() as session:
        yield session


def get_context(request: Request) -> RequestContext:
    return RequestContext(
        ip_address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        request_id=getattr(request.state, "request_id", None)
        or request.scope.get("state", {}).get("request_id"),
        source="api",
    )


def get_turns(request: Request) -> Turns:
    turns: Turns = request.app.state.turns
    return turns


def get_chat_jobs(request: Request) -> ChatJobs:
    jobs: ChatJobs = request.app.state.chat_jobs
    return jobs


PlatformDep = Annotated[Platform, Depends(get_platform)]
TurnsDep = Annotated[Turns, Depends(get_turns)]
ChatJobsDep = Annotated[ChatJobs, Depends(get_chat_jobs)]
# scope="function": the transaction commits before the response is sent, so a client
# acting on a response never meets state the database has not committed yet
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ContextDep = Annotated[RequestContext, Depends(get_context)]


@dataclass(frozen=True)
class Authentication:
    """The request's bearer token checked once: its user, or why there is none."""

    user: User | None
    error: WellcoachError | None = None


async def get_authentication(
    request: Request, platform: PlatformDep, session: SessionDep
) -> Authentication:
    """Who sends the request, if anyone: the rate-limit gate counts a signed-in user's
    requests on every route, public ones included, and routes that need a user raise
    the error (FastAPI runs this once per request, whoever asks). Tokens from before a
    password change are refused. What the API says from here on is in the user's
    language."""
    # the header read here, not through the `bearer` security scheme: public routes use
    # this too, and must not be published as needing a token
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return Authentication(None, InvalidToken("Send `Authorization: Bearer <access token>`."))
    try:
        user = await authenticate(session, platform.signer, token.strip())
    except WellcoachError as exc:
        return Authentication(None, exc)
    request.state.language = user.preferences.get("language")
    now = utcnow()
    if user.last_active_at is None or now - user.last_active_at > LAST_ACTIVE_RESOLUTION:
        user.last_active_at = now
    return Authentication(user)


AuthenticationDep = Annotated[Authentication, Depends(get_authentication)]


async def get_current_user(
    authentication: AuthenticationDep,
    _scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The user of a valid access token, else the token's error (401, 403). `_scheme`
    publishes the bearer scheme on the routes that need it."""
    if authentication.user is None:
        raise authentication.error or InvalidToken()
    return authentication.user


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
