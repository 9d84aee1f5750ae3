"""Who an access token belongs to: the one check every adapter runs (the API's
`CurrentUser` dependency, the Socket.IO connect handler), and the part of it a
long-lived connection repeats on every event (`SessionState`, `check_session`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.accounts import repository as users
from wellcoach.auth import refresh
from wellcoach.auth.errors import AccountDisabled, InvalidToken
from wellcoach.auth.signing import AccessClaims, Signer
from wellcoach.models import User

SIGNED_OUT = "This session was signed out; log in again."


@dataclass(frozen=True)
class SessionState:
    """What decides whether a user's access tokens still work, besides their expiry."""

    session_epoch: int
    disabled: bool

    @classmethod
    def of(cls, user: User) -> SessionState:
        return cls(user.session_epoch or 0, user.disabled_at is not None)


@dataclass(frozen=True)
class Authenticated:
    user: User
    claims: AccessClaims


def check_session(state: SessionState | None, session_epoch: int) -> None:
    """The rule, given the account's state (None: deleted or unknown).

    Raises:
        InvalidToken: a deleted account, or a token from before a password change.
        AccountDisabled: the account is disabled.
    """
    if state is None:
        raise InvalidToken()
    if state.disabled:
        raise AccountDisabled()
    if session_epoch != state.session_epoch:
        raise InvalidToken(SIGNED_OUT)


async def session_state(session: AsyncSession, user_id: uuid.UUID) -> SessionState | None:
    """The account's current state (one primary-key read); None when it is deleted."""
    user = await users.get_by_id(session, user_id)
    return SessionState.of(user) if user is not None else None


async def authenticate_token(session: AsyncSession, signer: Signer, token: str) -> Authenticated:
    """The user of a valid access token, with the token's claims."""
    claims = await signer.verify_access(token)
    user = await users.get_by_id(session, claims.user_id)
    if user is None:
        raise InvalidToken()
    check_session(SessionState.of(user), claims.session_epoch)
    return Authenticated(user, claims)


async def authenticate(session: AsyncSession, signer: Signer, token: str) -> User:
    """The user of a valid access token.

    Raises:
        InvalidToken: the token is malformed, expired, signed by an unknown key, of a
            deleted account, or from before a password change or sign-out.
        AccountDisabled: the account is disabled.
    """
    return (await authenticate_token(session, signer, token)).user


async def authenticate_connection(
    session: AsyncSession, signer: Signer, token: str
) -> Authenticated:
    """`authenticate_token` for a long-lived connection (Socket.IO): also refuses a token
    whose login (refresh family) was revoked — signed out, or a stolen refresh token was
    reused — since such a connection would otherwise outlive the revocation.

    Raises:
        InvalidToken, AccountDisabled: as `authenticate`.
    """
    authenticated = await authenticate_token(session, signer, token)
    family = authenticated.claims.family_id
    if family is not None and await refresh.family_revoked(session, family):
        raise InvalidToken(SIGNED_OUT)
    return authenticated
