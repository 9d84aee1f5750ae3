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
