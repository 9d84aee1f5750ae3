"""The master key of the embedded default: made by `wellcoach up`, read by everyone else.

With `WELLCOACH_MASTER_KEY` unset, the key lives in `<data dir>/master.key`. Only the
commands that own the platform create it (`wellcoach up`, `wellcoach keys generate-master
--save`); every other command reads it and, finding none, stops with one line naming
those commands (`MasterKeyMissing`) rather than sealing data under a key nobody knows
about (docs/adr/0011).
"""

from __future__ import annotations

from pathlib import Path

from wellcoach.config import Settings
from wellcoach.crypto.envelope import DEV_KEY_FILE, Keyring, load_or_create_dev_key
from wellcoach.runtime.services import secure_data_dir


def dev_key_path(settings: Settings) -> Path:
    return settings.data_dir / DEV_KEY_FILE


def ensure_master_key(settings: Settings) -> Path | None:
    """Make sure a master key exists; returns the path of the key file when it was just
    generated (None when one is configured or already kept in the data dir)."""
    if settings.master_key is not None:
        return None
    path = dev_key_path(settings)
    if path.exists():
        return None
    load_or_create_dev_key(settings.data_path / DEV_KEY_FILE)
    secure_data_dir(settings.data_path)
    return path


def require_master_key(settings: Settings) -> None:
    """Fail early, before any server starts, when no master key can be loaded.

    Raises:
        MasterKeyMissing: none is configured and the data dir holds none.
        KeyringError: the configured or kept key is malformed.
    """
    Keyring.from_settings(
        settings.master_key.get_secret_value() if settings.master_key else None,
        [key.get_secret_value() for key in settings.previous_master_keys],
        settings.data_dir,
    )
