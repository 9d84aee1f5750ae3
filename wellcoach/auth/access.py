"""Who an access token belongs to: the one check every adapter runs (the API's
`CurrentUser` dependency, the Socket.IO connect handler)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.accounts import repository as users
from wellcoach.auth.errors import AccountDisabled, InvalidToken
from wellcoach.auth.signing import Signer
from wellcoach.models import User


async def authenticate(session: AsyncSession, signer: Signer, token: str) -> User:
    """The user of a valid access token.

    Raises:
        InvalidToken: the token is malformed, expired, signed by an unknown key, of a
            deleted account, or from before a password change or sign-out.
        AccountDisabled: the account is disabled.
    """
    claims = await signer.verify_access(token)
    user = await users.get_by_id(session, claims.user_id)
    if user is None:
        raise InvalidToken()
    if user.disabled_at is not None:
        raise AccountDisabled()
    if claims.session_epoch != user.session_epoch:
        raise InvalidToken("This session was signed out; log in again.")
    return user
