"""Seal and open a user's personal data with that user's data key.

The vault is the one way the core reads or writes an encrypted column:
`await vault.seal_text(session, user_id, "text", purpose="message")`. Unwrapped
DEKs are cached per process for a short time, since every chat turn needs one.
"""

from __future__ import annotations

import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.crypto.envelope import (
    Keyring,
    aead_decrypt,
    aead_encrypt,
    aead_opener,
    aead_sealer,
    generate_key,
)
from wellcoach.db.base import utcnow
from wellcoach.errors import KeyShredded
from wellcoach.models.crypto import UserKey


class Vault:
    def __init__(self, keyring: Keyring, cache_ttl_seconds: float = 60.0, cache_size: int = 10_000):
        self.keyring = keyring
        self._ttl = cache_ttl_seconds
        self._size = cache_size
        self._cache: dict[uuid.UUID, tuple[float, bytes]] = {}

    async def create_user_key(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        dek = generate_key()
        kek_id, wrapped = self.keyring.wrap(dek, str(user_id))
        session.add(UserKey(user_id=user_id, kek_id=kek_id, wrapped_dek=wrapped))
        await session.flush()
        self._remember(user_id, dek)

    async def destroy_user_key(self, session: AsyncSession, user_id: uuid.UUID) -> bool:
        """Crypto-shred: the wrapped DEK is erased, so no copy of the data opens again."""
        self._cache.pop(user_id, None)
        key = await session.get(UserKey, user_id, with_for_update=True)
        if key is None or key.wrapped_dek is None:
            return False
        key.wrapped_dek = None
        key.kek_id = None
        key.destroyed_at = utcnow()
        await session.flush()
        return True

    async def rotate_master_key(self, session: AsyncSession) -> int:
        """Re-wrap every DEK not already under the current KEK; returns how many."""
        rows = await session.scalars(
            select(UserKey)
            .where(UserKey.wrapped_dek.is_not(None), UserKey.kek_id != self.keyring.current_id)
            .with_for_update()
        )
        count = 0
        for key in rows:
            assert key.wrapped_dek is not None and key.kek_id is not None
            dek = self.keyring.unwrap(key.kek_id, key.wrapped_dek, str(key.user_id))
            key.kek_id, key.wrapped_dek = self.keyring.wrap(dek, str(key.user_id))
            key.rotated_at = utcnow()
            count += 1
        await session.flush()
        return count

    async def seal(
        self, session: AsyncSession, user_id: uuid.UUID, data: bytes, *, purpose: str
    ) -> bytes:
        dek = await self._dek(session, user_id)
        return aead_encrypt(dek, data, _aad(user_id, purpose))

    async def open(
        self, session: AsyncSession, user_id: uuid.UUID, blob: bytes, *, purpose: str
    ) -> bytes:
        dek = await self._dek(session, user_id)
        return aead_decrypt(dek, blob, _aad(user_id, purpose))

    async def sealer(
        self, session: AsyncSession, user_id: uuid.UUID, *, purpose: str
    ) -> Callable[[bytes], bytes]:
        """`seal` for many values of one user and purpose, the key read once."""
        return aead_sealer(await self._dek(session, user_id), _aad(user_id, purpose))

    async def opener(
        self, session: AsyncSession, user_id: uuid.UUID, *, purpose: str
    ) -> Callable[[bytes], bytes]:
        """`open` for many values of one user and purpose, the key read once."""
        return aead_opener(await self._dek(session, user_id), _aad(user_id, purpose))

    async def sealer_any(
        self, session: AsyncSession, user_id: uuid.UUID
    ) -> Callable[[bytes, str], bytes]:
        """`seal` for one user and any purpose, without awaiting: for sync writers (a zip
        file written straight into a sealed file, chunk by chunk)."""
        dek = await self._dek(session, user_id)
        return lambda data, purpose: aead_encrypt(dek, data, _aad(user_id, purpose))

    async def opener_any(
        self, session: AsyncSession, user_id: uuid.UUID
    ) -> Callable[[bytes, str], bytes]:
        """`open` for one user and any purpose, without awaiting: for sync readers (a
        zip file seeking through a sealed upload, chunk by chunk)."""
        dek = await self._dek(session, user_id)
        return lambda blob, purpose: aead_decrypt(dek, blob, _aad(user_id, purpose))

    async def digester(
        self, session: AsyncSession, user_id: uuid.UUID, *, purpose: str
    ) -> Callable[[bytes], bytes]:
        """A keyed digest (HMAC-SHA256 under a key derived from the user's data key): equal
        inputs match without being readable, and shredding the key unlinks them too."""
        key = hmac.new(await self._dek(session, user_id), _aad(user_id, purpose), "sha256")
        derived = key.digest()
        return lambda data: hmac.new(derived, data, "sha256").digest()

    async def seal_text(
        self, session: AsyncSession, user_id: uuid.UUID, text: str, *, purpose: str
    ) -> bytes:
        return await self.seal(session, user_id, text.encode(), purpose=purpose)

    async def open_text(
        self, session: AsyncSession, user_id: uuid.UUID, blob: bytes, *, purpose: str
    ) -> str:
        return (await self.open(session, user_id, blob, purpose=purpose)).decode()

    async def seal_json(
        self, session: AsyncSession, user_id: uuid.UUID, value: Any, *, purpose: str
    ) -> bytes:
        raw = json.dumps(value, separators=(",", ":"), default=str).encode()
        return await self.seal(session, user_id, raw, purpose=purpose)

    async def open_json(
        self, session: AsyncSession, user_id: uuid.UUID, blob: bytes, *, purpose: str
    ) -> Any:
        return json.loads(await self.open(session, user_id, blob, purpose=purpose))

    def forget(self, user_id: uuid.UUID | None = None) -> None:
        """Drop cached keys (all, or one user's), e.g. after a shred in another process."""
        if user_id is None:
            self._cache.clear()
        else:
            self._cache.pop(user_id, None)

    async def _dek(self, session: AsyncSession, user_id: uuid.UUID) -> bytes:
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        key = await session.get(UserKey, user_id, populate_existing=True)
        if key is None or key.wrapped_dek is None or key.kek_id is None:
            self._cache.pop(user_id, None)
            raise KeyShredded(details={"user_id": str(user_id)})
        dek = self.keyring.unwrap(key.kek_id, key.wrapped_dek, str(user_id))
        self._remember(user_id, dek)
        return dek

    def _remember(self, user_id: uuid.UUID, dek: bytes) -> None:
        if len(self._cache) >= self._size:
            self._cache.pop(next(iter(self._cache)))
        self._cache[user_id] = (time.monotonic() + self._ttl, dek)


def _aad(user_id: uuid.UUID, purpose: str) -> bytes:
    return f"{user_id}:{purpose}".encode()
