"""TOTP two-factor authentication with hashed single-use recovery codes.

The TOTP secret is personal data: sealed with the user's data key. A code is
accepted once (replays within its window are refused via Redis).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

import pyotp
from redis.asyncio import Redis
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.crypto import Vault
from wellcoach.db.base import utcnow
from wellcoach.models import RecoveryCode, User

ISSUER = "wellcoach"
RECOVERY_CODES = 10
PURPOSE = "totp_secret"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


async def store_secret(session: AsyncSession, vault: Vault, user: User, secret: str) -> None:
    user.totp_secret_encrypted = await vault.seal_text(session, user.id, secret, purpose=PURPOSE)


async def load_secret(session: AsyncSession, vault: Vault, user: User) -> str | None:
    if user.totp_secret_encrypted is None:
        return None
    return await vault.open_text(session, user.id, user.totp_secret_encrypted, purpose=PURPOSE)


async def verify_code(redis: Redis, user_id: uuid.UUID, secret: str, code: str) -> bool:
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return False
    if not pyotp.TOTP(secret).verify(code, valid_window=1):
        return False
    # a code is good for ~90 s; refuse to accept the same one twice in that time
    fresh = await redis.set(f"wellcoach:totp-used:{user_id}:{code}", "1", nx=True, ex=120)
    return bool(fresh)


async def new_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """Replace the user's recovery codes; returns them in clear, once."""
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(user_id=user_id, code_hash=_code_hash(code)) for code in codes)
    await session.flush()
    return codes


async def use_recovery_code(session: AsyncSession, user_id: uuid.UUID, code: str) -> bool:
    record = await session.scalar(
        select(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == _code_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .with_for_update()
    )
    if record is None:
        return False
    record.used_at = utcnow()
    await session.flush()
    return True
