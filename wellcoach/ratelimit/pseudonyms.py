"""Identifiers that are personal data (an email address, an IP address) never reach Redis
as such: the limiter counts by their keyed hash.

HMAC-SHA256 under a key derived from the master key: the same address gives the same
key on every replica, Redis holds no address (not even of accounts that do not exist),
and without the master key nobody can test a guess against the keys. Rotating the
master key changes every pseudonym, which only restarts the current windows.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

LABEL = b"wellcoach/ratelimit/identifiers/v1"


@lru_cache(maxsize=4)
def pseudonym_key(master_key: bytes) -> bytes:
    """The key for pseudonyms, derived from (and never equal to) the master key; kept,
    since every request counted by address derives it."""
    return hmac.new(master_key, LABEL, hashlib.sha256).digest()


def pseudonym(key: bytes, value: str) -> str:
    """The identifier to count `value` by (64 hex characters)."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
