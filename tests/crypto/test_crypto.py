import stat
import uuid

import pytest
from sqlalchemy import text

from wellcoach.crypto import Keyring, KeyringError, Vault, aead_decrypt, aead_encrypt
from wellcoach.crypto.envelope import encode_key, generate_key, key_id, load_or_create_dev_key
from wellcoach.errors import KeyShredded
from wellcoach.models import User


def test_aead_round_trip_and_binding_to_associated_data():
    key = generate_key()
    blob = aead_encrypt(key, b"i feel anxious before games", b"user-a:message")

    assert aead_decrypt(key, blob, b"user-a:message") == b"i feel anxious before games"
    with pytest.raises(KeyringError):
        aead_decrypt(key, blob, b"user-b:message")  # moved to another owner
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(KeyringError):
        aead_decrypt(key, tampered, b"user-a:message")
    with pytest.raises(KeyringError):
        aead_decrypt(generate_key(), blob, b"user-a:message")


def test_same_plaintext_encrypts_differently_each_time():
    key = generate_key()
    assert aead_encrypt(key, b"same", b"ad") != aead_encrypt(key, b"same", b"ad")


def test_keyring_unwraps_with_a_previous_master_key():
    old, new = generate_key(), generate_key()
    dek = generate_key()
    kek_id, wrapped = Keyring(old).wrap(dek, "owner")

    rotated = Keyring(new, previous=(old,))
    assert rotated.unwrap(kek_id, wrapped, "owner") == dek
    with pytest.raises(KeyringError, match="no master key"):
        Keyring(new).unwrap(kek_id, wrapped, "owner")


def test_malformed_master_key_is_rejected(tmp_path):
    with pytest.raises(KeyringError, match="32 bytes"):
        Keyring.from_settings("too-short", [], tmp_path)


def test_dev_master_key_is_generated_once_and_private(tmp_path):
    path = tmp_path / "master.key"
    first = load_or_create_dev_key(path)
    assert load_or_create_dev_key(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def _user(session) -> User:
    user = User(email=f"{uuid.uuid4().hex}@example.com", password_hash="x")
    session.add(user)
    await session.flush()
    return user


async def test_personal_text_is_ciphertext_at_rest(db_session, platform):
    vault: Vault = platform.vault
    user = await _user(db_session)
    await vault.create_user_key(db_session, user.id)
    secret = "I have not slept properly since the injury"
    blob = await vault.seal_text(db_session, user.id, secret, purpose="note")
    await db_session.execute(
        text(
            "INSERT INTO mood_entries (id, user_id, mood, note_encrypted, source, created_at) "
            "VALUES (:id, :user, 4, :note, 'user', now())"
        ),
        {"id": uuid.uuid4(), "user": user.id, "note": blob},
    )

    raw = await db_session.scalar(
        text("SELECT note_encrypted FROM mood_entries WHERE user_id = :u"), {"u": user.id}
    )
    assert secret.encode() not in raw
    assert b"injury" not in raw
    vault.forget()
    assert await vault.open_text(db_session, user.id, raw, purpose="note") == secret
    with pytest.raises(KeyringError):
        await vault.open_text(db_session, user.id, raw, purpose="message")


async def test_destroying_the_data_key_shreds_the_data(db_session, platform):
    vault: Vault = platform.vault
    user = await _user(db_session)
    await vault.create_user_key(db_session, user.id)
    blob = await vault.seal_json(db_session, user.id, {"hrv": 61}, purpose="health")

    assert await vault.destroy_user_key(db_session, user.id) is True
    wrapped = await db_session.scalar(
        text("SELECT wrapped_dek FROM keystore.user_keys WHERE user_id = :u"), {"u": user.id}
    )
    assert wrapped is None
    with pytest.raises(KeyShredded):
        await vault.open_json(db_session, user.id, blob, purpose="health")
    assert await vault.destroy_user_key(db_session, user.id) is False


async def test_master_key_rotation_rewraps_without_touching_data(db_session, platform):
    old_vault: Vault = platform.vault
    user = await _user(db_session)
    await old_vault.create_user_key(db_session, user.id)
    blob = await old_vault.seal_text(db_session, user.id, "kept", purpose="message")

    new_key = generate_key()
    new_vault = Vault(Keyring(new_key, previous=(old_vault.keyring.current,)))
    assert await new_vault.rotate_master_key(db_session) >= 1
    kek = await db_session.scalar(
        text("SELECT kek_id FROM keystore.user_keys WHERE user_id = :u"), {"u": user.id}
    )
    assert kek == key_id(new_key)

    only_new = Vault(Keyring(new_key))
    assert await only_new.open_text(db_session, user.id, blob, purpose="message") == "kept"
    assert encode_key(new_key)
