"""Email verification and password reset tokens: signed, expiring, single use.

The token is a JWT (audience `wellcoach-email`, typ = purpose) signed with the
platform's signing key; its id is also stored, hashed, so it can be used once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.auth.errors import InvalidOneTimeToken, InvalidToken
from wellcoach.auth.signing import Signer
from wellcoach.config import ApiSettings
from wellcoach.db.base import utcnow
from wellcoach.models import OneTimeToken

AUDIENCE = "wellcoach-email"
VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"
# cancels a scheduled erasure: valid as long as the default grace period
CANCEL_ERASURE = "cancel_erasure"
TTL_SECONDS = {VERIFY_EMAIL: 48 * 3600, RESET_PASSWORD: 30 * 60, CANCEL_ERASURE: 7 * 24 * 3600}


def link(settings: ApiSettings, path: str, token: str) -> str:
    """The link an email carries for a one-time token: the API's public URL, else the
    address it listens on."""
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    return f"{base}{path}?token={token}"


def _hash(jti: str) -> str:
    return hashlib.sha256(jti.encode()).hexdigest()


async def create(session: AsyncSession, signer: Signer, user_id: uuid.UUID, purpose: str) -> str:
    jti = secrets.token_urlsafe(16)
    ttl = TTL_SECONDS[purpose]
    token, _ = await signer.sign(
        {"sub": str(user_id), "typ": purpose, "jti": jti}, audience=AUDIENCE, ttl_seconds=ttl
    )
    session.add(
        OneTimeToken(
            user_id=user_id,
            purpose=purpose,
            token_hash=_hash(jti),
            expires_at=utcnow() + timedelta(seconds=ttl),
        )
    )
    await session.flush()
    return token


async def consume(session: AsyncSession, signer: Signer, token: str, purpose: str) -> uuid.UUID:
    """Verify the token and mark it used; returns the user id it was issued for."""
    try:
        payload = await signer.verify(token, audience=AUDIENCE, typ=purpose)
    except InvalidToken as exc:
        raise InvalidOneTimeToken() from exc
    record = await session.scalar(
        select(OneTimeToken)
        .where(OneTimeToken.token_hash == _hash(payload["jti"]), OneTimeToken.purpose == purpose)
        .with_for_update()
    )
    if record is None or record.used_at is not None or record.expires_at <= utcnow():
        raise InvalidOneTimeToken()
    record.used_at = utcnow()
    await session.flush()
    return record.user_id


async def invalidate_all(session: AsyncSession, user_id: uuid.UUID, purpose: str) -> None:
    await session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user_id,
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
