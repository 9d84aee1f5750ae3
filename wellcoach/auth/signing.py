"""JWT signing keys and access tokens.

Keys live in the database wrapped by the master key, so every API replica signs
and verifies with the same set. Rotation adds a key and retires the previous
one; a retired key still verifies until the longest-lived token it signed has
expired. Only HS256 is accepted: `alg: none` and algorithm confusion fail.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wellcoach.auth.errors import InvalidToken
from wellcoach.config import AuthSettings
from wellcoach.crypto import Keyring
from wellcoach.db.base import utcnow
from wellcoach.models import JwtSigningKey

ALGORITHM = "HS256"
ACCESS = "access"
RELOAD_INTERVAL = 60.0


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    role: str
    tier: str
    issued_at: datetime
    expires_at: datetime
    token_id: str
    key_id: str
    session_epoch: int
    family_id: uuid.UUID | None = None  # the refresh family (login) that issued the token


@dataclass
class _Key:
    kid: str
    secret: bytes
    created_at: datetime
    retired_at: datetime | None


class Signer:
    def __init__(
        self,
        settings: AuthSettings,
        keyring: Keyring,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self.settings = settings
        self.keyring = keyring
        self._sessions = sessions
        self._keys: dict[str, _Key] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    # -- key management -------------------------------------------------
    async def rotate(self, session: AsyncSession) -> str:
        """Create a new current key and retire the others; returns the new kid."""
        now = utcnow()
        current = await session.scalars(
            select(JwtSigningKey).where(JwtSigningKey.retired_at.is_(None)).with_for_update()
        )
        for key in current:
            key.retired_at = now
        kid = secrets.token_hex(8)
        kek_id, wrapped = self.keyring.wrap(secrets.token_bytes(32), f"jwt:{kid}")
        session.add(
            JwtSigningKey(
                kid=kid, algorithm=ALGORITHM, secret_wrapped=wrapped, kek_id=kek_id, created_at=now
            )
        )
        await session.flush()
        self._loaded_at = 0.0
        return kid

    async def _load(self, force: bool = False) -> None:
        if not force and self._keys and time.monotonic() - self._loaded_at < RELOAD_INTERVAL:
            return
        async with self._lock:
            if not force and self._keys and time.monotonic() - self._loaded_at < RELOAD_INTERVAL:
                return
            async with self._sessions() as session:
                rows = list(await session.scalars(select(JwtSigningKey)))
                if not any(row.retired_at is None for row in rows):
                    await self.rotate(session)
                    await session.commit()
                    rows = list(await session.scalars(select(JwtSigningKey)))
            self._keys = {
                row.kid: _Key(
                    row.kid,
                    self.keyring.unwrap(row.kek_id, row.secret_wrapped, f"jwt:{row.kid}"),
                    row.created_at,
                    row.retired_at,
                )
                for row in rows
            }
            self._loaded_at = time.monotonic()

    async def _current(self) -> _Key:
        await self._load()
        active = [key for key in self._keys.values() if key.retired_at is None]
        if not active:
            await self._load(force=True)
            active = [key for key in self._keys.values() if key.retired_at is None]
        return max(active, key=lambda key: key.created_at)

    async def _verifying_key(self, kid: str) -> _Key:
        await self._load()
        key = self._keys.get(kid)
        if key is None:  # maybe rotated by another process since we loaded
            await self._load(force=True)
            key = self._keys.get(kid)
        if key is None:
            raise InvalidToken()
        grace = timedelta(seconds=max(self.settings.access_ttl_seconds, 900))
        if key.retired_at is not None and key.retired_at + grace < utcnow():
            raise InvalidToken()
        return key

    # -- tokens -----------------------------------------------------------
    async def sign(
        self, claims: dict[str, Any], *, audience: str, ttl_seconds: int
    ) -> tuple[str, datetime]:
        key = await self._current()
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=ttl_seconds)
        payload = {
            **claims,
            "iss": self.settings.issuer,
            "aud": audience,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": claims.get("jti") or secrets.token_urlsafe(12),
        }
        token = jwt.encode(payload, key.secret, algorithm=ALGORITHM, headers={"kid": key.kid})
        return token, expires

    async def verify(self, token: str, *, audience: str, typ: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken() from exc
        if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
            raise InvalidToken()
        key = await self._verifying_key(header["kid"])
        try:
            payload = jwt.decode(
                token,
                key.secret,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=self.settings.issuer,
                options={"require": ["exp", "iat", "sub", "jti", "typ"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken() from exc
        if payload.get("typ") != typ:
            raise InvalidToken()
        payload["_kid"] = key.kid
        return payload

    async def issue_access(
        self,
        user_id: uuid.UUID,
        role: str,
        tier: str,
        session_epoch: int = 0,
        family_id: uuid.UUID | None = None,
    ) -> tuple[str, int]:
        """An access token; `family_id` names the login (refresh family) it belongs to, so a
        long-lived connection can be ended with that login (Socket.IO)."""
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "role": role,
            "tier": tier,
            "typ": ACCESS,
            "sev": session_epoch,
        }
        if family_id is not None:
            claims["fam"] = str(family_id)
        token, _ = await self.sign(
            claims, audience=self.settings.audience, ttl_seconds=self.settings.access_ttl_seconds
        )
        return token, self.settings.access_ttl_seconds

    async def verify_access(self, token: str) -> AccessClaims:
        payload = await self.verify(token, audience=self.settings.audience, typ=ACCESS)
        try:
            user_id = uuid.UUID(payload["sub"])
            family_id = uuid.UUID(payload["fam"]) if payload.get("fam") else None
        except (ValueError, TypeError, AttributeError) as exc:
            raise InvalidToken() from exc
        return AccessClaims(
            user_id=user_id,
            role=str(payload.get("role")),
            tier=str(payload.get("tier")),
            issued_at=datetime.fromtimestamp(payload["iat"], UTC),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
            token_id=payload["jti"],
            key_id=payload["_kid"],
            session_epoch=int(payload.get("sev", 0)),
            family_id=family_id,
        )
