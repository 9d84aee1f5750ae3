"""Rotating refresh tokens, grouped in families.

A refresh token is an opaque random string; only its SHA-256 is stored. Each use
rotates it: the old one is marked rotated and a child is issued in the same
family. Presenting a rotated or revoked token again means it leaked, so the
whole family (every device session descending from that login) is revoked.

Every revocation is announced (`wellcoach.notify.devices.announce_sessions_ended`) in
the same transaction, so the API processes close the Socket.IO connections of those
sessions once it commits. Whatever ends a user's sessions (a password change or reset,
disabling, account deletion) goes through `revoke_all` or `revoke_family`.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.audit import RequestContext
from wellcoach.auth.errors import InvalidToken, TokenReused
from wellcoach.db.base import utcnow
from wellcoach.db.session import rows_affected
from wellcoach.models import RefreshToken
from wellcoach.notify.devices import announce_sessions_ended


@dataclass(frozen=True)
class IssuedRefresh:
    token: str
    record: RefreshToken


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(
    session: AsyncSession,
    user_id: uuid.UUID,
    ttl_seconds: int,
    context: RequestContext,
    *,
    family_id: uuid.UUID | None = None,
    parent_id: uuid.UUID | None = None,
) -> IssuedRefresh:
    token = secrets.token_urlsafe(32)
    record = RefreshToken(
        user_id=user_id,
        family_id=family_id or uuid.uuid4(),
        parent_id=parent_id,
        token_hash=token_hash(token),
        expires_at=utcnow() + timedelta(seconds=ttl_seconds),
        ip_address=context.ip_address,
        user_agent=(context.user_agent or "")[:255] or None,
    )
    session.add(record)
    await session.flush()
    return IssuedRefresh(token, record)


async def rotate(
    session: AsyncSession, token: str, ttl_seconds: int, context: RequestContext
) -> IssuedRefresh:
    """Exchange a valid refresh token for a new one.

    Raises:
        InvalidToken: unknown or expired token.
        TokenReused: the token was already rotated or revoked; its family is now revoked.
    """
    record = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash(token)).with_for_update()
    )
    if record is None:
        raise InvalidToken()
    if record.rotated_at is not None or record.revoked_at is not None:
        await revoke_family(session, record.family_id, reason="reuse_detected")
        raise TokenReused(details={"family_id": str(record.family_id)})
    if record.expires_at <= utcnow():
        raise InvalidToken()
    record.rotated_at = utcnow()
    return await issue(
        session,
        record.user_id,
        ttl_seconds,
        context,
        family_id=record.family_id,
        parent_id=record.id,
    )


async def find(session: AsyncSession, token: str) -> RefreshToken | None:
    return await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash(token))
    )


async def family_revoked(session: AsyncSession, family_id: uuid.UUID) -> bool:
    """Whether a login (refresh family) was revoked. Revoking marks every token of the
    family, so one marked token says it; a family whose first token is not committed
    yet (an access token may reach a client before its login commits) is not revoked."""
    revoked = await session.scalar(
        select(
            exists().where(
                RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_not(None)
            )
        )
    )
    return bool(revoked)


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, reason: str) -> int:
    """Revoke one login's tokens; its connections are closed once this commits."""
    revoked = list(
        await session.scalars(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason)
            .returning(RefreshToken.user_id)
        )
    )
    for user_id in set(revoked):
        await announce_sessions_ended(session, user_id, reason, family_id=family_id)
    return len(revoked)


async def revoke_all(session: AsyncSession, user_id: uuid.UUID, reason: str) -> int:
    """Revoke every login of the user; all their connections are closed once this commits
    (announced even when no refresh token was left: access tokens may still be live)."""
    count = await rows_affected(
        session,
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason),
    )
    await announce_sessions_ended(session, user_id, reason)
    return count
