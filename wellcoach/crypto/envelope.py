"""AES-256-GCM primitives and the master keyring.

Ciphertext layout: 1 version byte, 12-byte random nonce, then ciphertext+tag.
The associated data binds a ciphertext to its owner and purpose, so a blob
copied into another user's row or column does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wellcoach.errors import WellcoachError

FORMAT_VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32


class KeyringError(WellcoachError):
    """A key is missing, malformed, or does not open this ciphertext."""

    code = "crypto_error"


class MasterKeyMissing(KeyringError):
    """No master key is configured and the data dir holds none."""

    code = "master_key_missing"
    kind = "unavailable"


# the master key of the embedded default, in the data dir
DEV_KEY_FILE = "master.key"


def aead_encrypt(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return bytes([FORMAT_VERSION]) + nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def aead_decrypt(key: bytes, blob: bytes, associated_data: bytes) -> bytes:
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[0] != FORMAT_VERSION:
        raise KeyringError("ciphertext is malformed or of an unknown version")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, associated_data)
    except InvalidTag as exc:
        raise KeyringError("ciphertext does not authenticate with this key") from exc


def aead_sealer(key: bytes, associated_data: bytes) -> Callable[[bytes], bytes]:
    """`aead_encrypt` for many plaintexts under one key and associated data: the cipher
    is built once (a health sync seals thousands of samples)."""
    cipher = AESGCM(key)
    version = bytes([FORMAT_VERSION])

    def seal(plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return version + nonce + cipher.encrypt(nonce, plaintext, associated_data)

    return seal


def aead_opener(key: bytes, associated_data: bytes) -> Callable[[bytes], bytes]:
    """`aead_decrypt` for many ciphertexts under one key and associated data."""
    cipher = AESGCM(key)

    def open_(blob: bytes) -> bytes:
        if len(blob) < 1 + NONCE_BYTES + 16 or blob[0] != FORMAT_VERSION:
            raise KeyringError("ciphertext is malformed or of an unknown version")
        try:
            return cipher.decrypt(
                blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], associated_data
            )
        except InvalidTag as exc:
            raise KeyringError("ciphertext does not authenticate with this key") from exc

    return open_


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key; identifies which KEK wrapped a DEK."""
    return hashlib.sha256(b"wellcoach-kek-id" + key).hexdigest()[:16]


def parse_key(encoded: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(encoded.strip() + "=" * (-len(encoded.strip()) % 4))
    except ValueError as exc:
        raise KeyringError("a master key must be 32 bytes, base64-encoded") from exc
    if len(key) != KEY_BYTES:
        raise KeyringError("a master key must be 32 bytes, base64-encoded")
    return key


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def generate_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


@dataclass(frozen=True)
class Keyring:
    """The current KEK plus retired ones that still unwrap older DEKs."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def wrap(self, dek: bytes, owner: str) -> tuple[str, bytes]:
        return self.current_id, aead_encrypt(self.current, dek, b"dek:" + owner.encode())

    def unwrap(self, kek_id: str, wrapped: bytes, owner: str) -> bytes:
        for kek in (self.current, *self.previous):
            if key_id(kek) == kek_id:
                return aead_decrypt(kek, wrapped, b"dek:" + owner.encode())
        raise KeyringError(f"no master key with id {kek_id} is configured")

    @classmethod
    def from_settings(cls, master_key: str | None, previous: list[str], data_dir: Path) -> Keyring:
        """Build the keyring; without a configured key, use the one in the data dir.

        Never creates a key: only `wellcoach up` and `wellcoach keys generate-master`
        do (`load_or_create_dev_key`). A key made behind an admin's back, in a data dir
        they did not mean, would seal data nobody can open with the real one.

        Raises:
            MasterKeyMissing: no key is configured and the data dir holds none.
        """
        if master_key:
            current = parse_key(master_key)
        else:
            current = load_dev_key(data_dir / DEV_KEY_FILE)
        return cls(current=current, previous=tuple(parse_key(item) for item in previous))


def load_dev_key(path: Path) -> bytes:
    """The master key kept in the data dir (the embedded default)."""
    try:
        encoded = path.read_text()
    except FileNotFoundError:
        raise MasterKeyMissing(
            f"no master key: WELLCOACH_MASTER_KEY is unset and {path} does not exist; "
            "start the platform once with `wellcoach up` (it generates one there), "
            "or run `wellcoach keys generate-master` (`--save` writes it there)"
        ) from None
    return parse_key(encoded)


def load_or_create_dev_key(path: Path) -> bytes:
    """The data dir's master key, generated (with a warning) when there is none yet:
    for `wellcoach up` and `wellcoach keys generate-master --save` only."""
    if path.exists():
        return parse_key(path.read_text())
    import structlog

    structlog.get_logger(__name__).warning(
        "master_key_generated",
        path=str(path),
        hint="set WELLCOACH_MASTER_KEY in production; this key protects all personal data",
    )
    key = generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(encode_key(key))
    return key
