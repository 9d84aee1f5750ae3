"""The embedded servers: start, reuse, persist, stop, and recovery after a crash."""

import shutil
import tempfile
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from api.main import create_app
from wellcoach.config import DatabaseSettings
from wellcoach.errors import ServiceUnavailable
from wellcoach.platform import open_platform
from wellcoach.runtime import postgres, valkey
from wellcoach.runtime.services import (
    ServiceUrls,
    check_postgres,
    check_redis,
    redact,
    to_async_url,
)


def test_valkey_persists_across_restarts(tmp_path):
    directory = tmp_path / "valkey"
    first = valkey.start_valkey(directory)
    try:
        assert valkey.start_valkey(directory).pid == first.pid  # attach, not a second server
        client = redis.Redis.from_url(first.url)
        client.set("kept", "yes")
        client.close()
    finally:
        assert valkey.stop_valkey(directory) is True
    assert valkey.running_valkey(directory) is None
    assert valkey.stop_valkey(directory) is False

    second = valkey.start_valkey(directory)
    try:
        assert second.port == first.port
        client = redis.Redis.from_url(second.url)
        assert client.get("kept") == b"yes"
        client.close()
    finally:
        valkey.stop_valkey(directory)


@pytest.fixture(scope="module")
def own_postgres():
    """A second embedded server this module may kill without harming other tests.

    Outside pytest's temporary root: as root, the server runs as another user, who must
    traverse every parent directory, and each pytest session on the machine resets
    /tmp/pytest-of-<user> to 0700."""
    base = Path(tempfile.mkdtemp(prefix="wellcoach-own-pg-"))
    base.chmod(0o755)
    pgdata = base / "pg"
    handle = postgres.start_postgres(pgdata)
    yield pgdata, handle
    postgres.stop_postgres(pgdata, mode="immediate")
    shutil.rmtree(base, ignore_errors=True)


def test_embedded_postgres_keeps_data_across_restarts(own_postgres):
    pgdata, handle = own_postgres
    with psycopg.connect(handle.libpq_url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS probe (v text)")
        conn.execute("INSERT INTO probe VALUES ('before restart')")
    assert postgres.stop_postgres(pgdata) is True
    assert postgres.running_postgres(pgdata) is None

    again = postgres.start_postgres(pgdata)
    with psycopg.connect(again.libpq_url()) as conn:
        assert conn.execute("SELECT v FROM probe").fetchone() == ("before restart",)
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() == (
            1,
        )


def test_embedded_postgres_applies_its_server_settings_once(own_postgres):
    """initdb's defaults are replaced (ALTER SYSTEM, one restart); later starts attach."""
    pgdata, _ = own_postgres
    wanted = DatabaseSettings().embedded_server
    handle = postgres.start_postgres(pgdata)
    with psycopg.connect(handle.libpq_url()) as conn:
        for name, value in wanted.items():
            assert conn.execute(f"SHOW {name}").fetchone() == (value,)
    assert postgres.start_postgres(pgdata).pid == handle.pid  # nothing new: no restart

    changed = postgres.start_postgres(pgdata, server_settings={"work_mem": "8MB"})
    assert changed.pid == handle.pid  # a reload is enough for this one
    with psycopg.connect(changed.libpq_url()) as conn:
        assert conn.execute("SHOW work_mem").fetchone() == ("8MB",)


async def test_api_health_degrades_when_postgres_dies_and_recovers(
    settings, services, own_postgres
):
    pgdata, _ = own_postgres
    handle = postgres.start_postgres(pgdata)
    urls = ServiceUrls(handle.url(), services.redis_url, True, False)
    platform = await open_platform(settings, urls)
    app = create_app(settings, platform)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            assert (await http.get("/health")).json()["status"] == "healthy"

            postgres.stop_postgres(pgdata, mode="immediate")
            down = (await http.get("/health")).json()
            assert down["status"] == "degraded"
            assert down["checks"]["database"]["ok"] is False
            assert down["checks"]["redis"]["ok"] is True
            assert (await http.get("/ready")).status_code == 503

            postgres.start_postgres(pgdata)
            assert (await http.get("/health")).json()["status"] == "healthy"
    finally:
        await platform.close()


def test_unreachable_external_services_get_a_clear_error():
    with pytest.raises(ServiceUnavailable, match="WELLCOACH_DATABASE_URL"):
        check_postgres("postgresql+psycopg://nobody:pw@127.0.0.1:1/none", timeout=1)
    with pytest.raises(ServiceUnavailable, match="WELLCOACH_REDIS_URL"):
        check_redis("redis://127.0.0.1:1/0", timeout=0.5)
    with pytest.raises(ServiceUnavailable, match="not a PostgreSQL URL"):
        to_async_url("mysql://root@db/x")


def test_urls_are_redacted_before_display():
    assert "s3cret" not in redact("postgresql+psycopg://app:s3cret@db:5432/w")
    assert "s3cret" not in redact("redis://default:s3cret@cache:6379/0")
    # the embedded Valkey's URL: a password and no user name
    embedded = valkey.ValkeyHandle(Path("/x"), 6390, None, password="s3cret-_Tok3n").url
    assert redact(embedded) == "redis://:***@127.0.0.1:6390/0"
    assert redact("redis://cache:6379/0") == "redis://cache:6379/0"
    assert to_async_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
