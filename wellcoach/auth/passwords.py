"""Password hashing (bcrypt, cost from settings) and the password policy.

bcrypt reads at most 72 bytes, so the password is first reduced with SHA-256
(base64, 44 bytes): long passphrases keep all their entropy. Hashing runs in a
thread so a 250 ms bcrypt does not block the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from functools import cache
from pathlib import Path

import bcrypt

from wellcoach.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 256
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


class WeakPassword(InvalidInput):
    """The password does not meet the password policy."""

    code = "weak_password"


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode()).digest())


def hash_password_sync(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds=rounds)).decode()


def verify_password_sync(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), hashed.encode())
    except ValueError:  # malformed hash in the database
        return False


async def hash_password(password: str, rounds: int) -> str:
    return await asyncio.to_thread(hash_password_sync, password, rounds)


async def verify_password(password: str, hashed: str) -> bool:
    return await asyncio.to_thread(verify_password_sync, password, hashed)


def hash_cost(hashed: str) -> int:
    """The bcrypt cost a hash was made with ("$2b$12$..." -> 12)."""
    try:
        return int(hashed.split("$")[2])
    except (IndexError, ValueError):
        return 0


def needs_rehash(hashed: str, rounds: int) -> bool:
    return hash_cost(hashed) != rounds


@cache
def dummy_hash(rounds: int) -> str:
    """A hash to verify against when the account does not exist: same timing, no leak."""
    return hash_password_sync("wellcoach-no-such-account", rounds)


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text().splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def check_policy(password: str, email: str | None = None) -> None:
    """Raise `WeakPassword` naming the first rule the password breaks."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters.", details={"rule": "min_length"})
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.", details={"rule": "max_length"})
    lowered = password.lower()
    if email and lowered in {email.lower(), email.split("@")[0].lower()}:
        raise WeakPassword(
            "The password must not be your email address.", details={"rule": "equals_email"}
        )
    # "Password123!" and "football2024" are as weak as their common root
    core = re.sub(r"[\d\W_]+$", "", re.sub(r"^[\d\W_]+", "", lowered))
    common = common_passwords()
    if lowered in common or core in common or len(set(lowered)) < 4:
        raise WeakPassword(
            "This password is too common; choose a less predictable one.",
            details={"rule": "common"},
        )
