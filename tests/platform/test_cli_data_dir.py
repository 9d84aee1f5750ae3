"""The CLI does not depend on the folder it runs from (docs/adr/0011).

Run from any folder, a command finds the same data dir and `.env`; only `wellcoach up`
(and `keys generate-master --save`) makes a master key; commands other than up, api,
worker, cron and dashboard attach to the running platform and, finding none, say so on
one line instead of starting embedded servers; an unmigrated database names
`wellcoach db upgrade`. Most checks run the installed `wellcoach` script in a temporary
folder, as an admin would; the rest run in-process after `chdir`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg
import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from cli.main import app
from wellcoach.config import Settings, default_data_dir, get_settings, home_dir
from wellcoach.runtime.services import to_libpq_url

WELLCOACH = str(Path(sys.executable).with_name("wellcoach"))
NOT_RUNNING = "start the platform with: wellcoach up"
runner = CliRunner()


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """A shell with no WELLCOACH_ setting but `settings`, and an empty `.env` (a
    developer's own `.env` in the checkout must not change the outcome)."""
    empty = tmp_path / "empty.env"
    empty.touch()
    env = {key: value for key, value in os.environ.items() if not key.startswith("WELLCOACH_")}
    env.update(
        WELLCOACH_ENV_FILE=str(empty), WELLCOACH_LOG_LEVEL="WARNING", COLUMNS="400", **settings
    )
    return env


def _run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WELLCOACH, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """In-process CLI runs from an empty folder, with no WELLCOACH_ setting and no `.env`;
    returns that folder."""
    for key in list(os.environ):
        if key.startswith("WELLCOACH_"):
            monkeypatch.delenv(key)
    monkeypatch.setitem(Settings.model_config, "env_file", None)
    monkeypatch.setenv("WELLCOACH_LOG_LEVEL", "WARNING")
    cwd = _folder(tmp_path, "cwd")
    monkeypatch.chdir(cwd)
    get_settings.cache_clear()
    yield cwd
    get_settings.cache_clear()


def _use(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    for key, value in settings.items():
        monkeypatch.setenv(f"WELLCOACH_{key.upper()}", value)
    get_settings.cache_clear()


# -- where the data dir and the .env are -------------------------------------------------


def test_the_data_dir_is_the_same_from_any_folder_and_never_created_there(tmp_path):
    first, second = _folder(tmp_path, "first"), _folder(tmp_path, "second")
    # a .env in the current folder is not read: it would make the answer depend on it
    (first / ".env").write_text(f"WELLCOACH_DATA_DIR={tmp_path / 'from-cwd-env'}\n")
    env = _env(tmp_path)
    shown = []
    for folder in (first, second):
        done = _run(folder, env, "config", "show", "--json")
        assert done.returncode == 0, done.stderr
        shown.append(json.loads(done.stdout)["data_dir"])
    assert shown[0] == shown[1] == str(default_data_dir())
    assert Path(shown[0]).is_absolute()
    assert sorted(p.name for p in first.iterdir()) == [".env"]
    assert list(second.iterdir()) == []


def test_the_explicit_setting_wins_and_the_env_file_is_the_named_one(tmp_path):
    cwd = _folder(tmp_path, "cwd")
    chosen = tmp_path / "chosen"
    done = _run(cwd, _env(tmp_path, WELLCOACH_DATA_DIR=str(chosen)), "config", "show", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data_dir"] == str(chosen)

    # a relative value is anchored where the .env lives (the checkout), not in the cwd
    done = _run(cwd, _env(tmp_path, WELLCOACH_DATA_DIR="relative/var"), "config", "show", "--json")
    assert json.loads(done.stdout)["data_dir"] == str(home_dir() / "relative" / "var")

    named = tmp_path / "named.env"
    named.write_text(f"WELLCOACH_DATA_DIR={tmp_path / 'from-named-env'}\n")
    env = _env(tmp_path) | {"WELLCOACH_ENV_FILE": str(named)}
    done = _run(cwd, env, "config", "show", "--json")
    assert json.loads(done.stdout)["data_dir"] == str(tmp_path / "from-named-env")
    assert list(cwd.iterdir()) == []


# -- nothing runs: one line, nothing started ---------------------------------------------


def test_mail_outbox_from_another_folder_starts_nothing(tmp_path):
    """The issue as reported: `wellcoach mail outbox` outside the checkout."""
    cwd = _folder(tmp_path, "elsewhere")
    data = tmp_path / "data"
    done = _run(cwd, _env(tmp_path, WELLCOACH_DATA_DIR=str(data)), "mail", "outbox")
    assert done.returncode == 7
    line = _one_line(done.stderr)
    assert line.startswith("error [service_unavailable] the platform is not running")
    assert str(data) in line and line.endswith(NOT_RUNNING)
    assert list(cwd.iterdir()) == []  # no ./var
    assert not data.exists()  # no server, no key, not even the directory
    assert not [
        proc.pid
        for proc in psutil.process_iter(["cmdline"])
        if str(tmp_path) in " ".join(proc.info["cmdline"] or [])
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["users", "list"],
        ["db", "current"],
        ["db", "upgrade"],
        ["kb", "stats"],
        ["keys", "rotate-master"],
        ["mail", "deliver"],
    ],
    ids=" ".join,
)
def test_commands_attach_or_say_the_platform_is_not_running(shell, monkeypatch, tmp_path, command):
    data = tmp_path / "data"
    _use(monkeypatch, data_dir=str(data), smtp_url="smtp://127.0.0.1:1")
    result = runner.invoke(app, command)
    assert result.exit_code == 7, result.output
    assert _one_line(result.stderr).endswith(NOT_RUNNING)
    assert list(shell.iterdir()) == []
    assert not data.exists()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("recorded", ["dead", "another program"])
def test_recorded_servers_that_do_not_answer_are_not_running(
    shell, monkeypatch, tmp_path, recorded
):
    """A pid file outlives a killed server, and its pid may be another program's by now."""
    data = tmp_path / "data"
    pid = _dead_pid() if recorded == "dead" else os.getpid()
    pgdata = data / "postgres"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("18\n")
    (pgdata / "postmaster.pid").write_text(
        f"{pid}\n{pgdata}\n1700000000\n5432\n{pgdata}\nlocalhost\n  0  0\nready   \n"
    )
    (data / "valkey").mkdir()
    (data / "valkey" / "valkey.pid").write_text(f"{pid}\n")
    (data / "valkey" / "port").write_text("1\n")
    _use(monkeypatch, data_dir=str(data))

    result = runner.invoke(app, ["mail", "outbox"])
    assert result.exit_code == 7, result.output
    assert _one_line(result.stderr).endswith(NOT_RUNNING)

    report = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert report["data_dir"] == str(data)
    assert report["postgres"]["ok"] is False and report["database_url"] is None
    assert report["redis"]["ok"] is False and report["redis_url"] is None
    assert not (data / "master.key").exists()


def test_status_reports_only_the_platform_of_its_data_dir(shell, monkeypatch, tmp_path, services):
    """The test suite's PostgreSQL runs elsewhere: not this data dir's platform."""
    data = tmp_path / "data"
    _use(monkeypatch, data_dir=str(data))
    shown = runner.invoke(app, ["status", "--json"])
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    assert report["data_dir"] == str(data)
    assert report["postgres"] == {"embedded": True, "ok": False, "pid": None}
    assert report["redis"] == {"embedded": True, "ok": False, "pid": None}
    table = runner.invoke(app, ["status"], env={"COLUMNS": "200"})
    assert f"data dir: {data}" in table.stdout
    assert _one_line(table.stderr) == f"the platform is not running; {NOT_RUNNING}"
    assert list(shell.iterdir()) == [] and not data.exists()


# -- the master key: made by `up` or `keys generate-master`, by nothing else ---------------


def test_no_command_generates_a_master_key(shell, monkeypatch, tmp_path, services):
    """With configured services (used as before, from any folder) and no key, a command
    says which commands make one; `keys generate-master --save` makes it."""
    data = tmp_path / "data"
    _use(
        monkeypatch,
        data_dir=str(data),
        database_url=services.database_url,
        redis_url=services.redis_url,
    )
    for command in (["mail", "outbox"], ["users", "list"], ["keys", "rotate-jwt"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 7, result.output
        line = _one_line(result.stderr)
        assert line.startswith("error [master_key_missing] no master key")
        assert "`wellcoach up`" in line and "`wellcoach keys generate-master`" in line
    assert not (data / "master.key").exists()

    saved = runner.invoke(app, ["keys", "generate-master", "--save"])
    assert saved.exit_code == 0, saved.output
    key = data / "master.key"
    assert key.stat().st_mode & 0o777 == 0o600
    kept = key.read_text()
    again = runner.invoke(app, ["keys", "generate-master", "--save"])
    assert again.exit_code == 4 and "exists already" in _one_line(again.stderr)
    assert key.read_text() == kept

    listed = runner.invoke(app, ["mail", "outbox", "--json", "--limit", "1"])
    assert listed.exit_code == 0, listed.output
    assert isinstance(json.loads(listed.stdout), list)
    assert list(shell.iterdir()) == []


def test_api_without_a_key_stops_before_starting_any_server(shell, monkeypatch, tmp_path):
    data = tmp_path / "data"
    _use(monkeypatch, data_dir=str(data))
    result = runner.invoke(app, ["worker", "--burst"])
    assert result.exit_code == 7, result.output
    assert "[master_key_missing]" in _one_line(result.stderr)
    assert not (data / "postgres").exists() and not (data / "valkey").exists()


# -- an unmigrated database ----------------------------------------------------------------


@pytest.fixture
def empty_database(services) -> str:
    """A database with no table on the test server (as before `wellcoach db upgrade`)."""
    url = make_url(services.database_url)
    admin = to_libpq_url(url.set(database="postgres").render_as_string(hide_password=False))
    name = "wellcoach_cli_unmigrated"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_an_unmigrated_database_names_db_upgrade(tmp_path, services, master_key, empty_database):
    cwd = _folder(tmp_path, "cwd")
    env = _env(
        tmp_path,
        WELLCOACH_DATA_DIR=str(tmp_path / "data"),
        WELLCOACH_DATABASE_URL=empty_database,
        WELLCOACH_REDIS_URL=services.redis_url,
        WELLCOACH_MASTER_KEY=master_key,
    )
    done = _run(cwd, env, "mail", "outbox")
    assert done.returncode == 7, done.stderr
    line = _one_line(done.stderr)
    assert line.startswith("error [database_not_migrated]")
    assert 'relation "email_outbox" does not exist' in line
    assert line.endswith("apply the migrations with: wellcoach db upgrade")
    assert list(cwd.iterdir()) == []
