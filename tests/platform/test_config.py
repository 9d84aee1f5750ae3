from pathlib import Path

import pytest
from pydantic import ValidationError

from wellcoach.config import Settings


def test_secrets_are_masked_and_nested_groups_read_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("WELLCOACH_DATABASE_URL", "postgresql://app:hunter2@db/wellcoach")
    monkeypatch.setenv("WELLCOACH_OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("WELLCOACH_AUTH__BCRYPT_ROUNDS", "10")
    monkeypatch.setenv("WELLCOACH_DATA_DIR", str(tmp_path))
    settings = Settings(_env_file=None)

    masked = settings.masked()

    assert masked["database_url"] == "********"
    assert masked["openai_api_key"] == "********"
    assert "hunter2" not in repr(masked)
    assert settings.auth.bcrypt_rounds == 10
    assert masked["data_dir"] == str(tmp_path)


def test_production_refuses_embedded_defaults():
    with pytest.raises(ValidationError, match="WELLCOACH_DATABASE_URL"):
        Settings(_env_file=None, env="production")


def test_production_accepts_configured_services():
    settings = Settings(
        _env_file=None,
        env="production",
        database_url="postgresql://db/w",
        redis_url="redis://r:6379/0",
        master_key="x" * 44,
    )
    assert settings.env == "production"


def test_data_path_is_absolute_and_created(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path / "nested" / "var")
    assert settings.data_path.is_absolute()
    assert settings.data_path.is_dir()
    assert Path(settings.data_path).name == "var"
