"""Envelope encryption at rest: a master key (KEK) wraps one data key (DEK) per user.

Destroying a user's DEK makes every ciphertext of that user unreadable (crypto-
shredding); rotating the KEK re-wraps DEKs without touching the data.
"""

from wellcoach.crypto.envelope import Keyring, KeyringError, aead_decrypt, aead_encrypt
from wellcoach.crypto.vault import Vault

__all__ = ["Keyring", "KeyringError", "Vault", "aead_decrypt", "aead_encrypt"]
