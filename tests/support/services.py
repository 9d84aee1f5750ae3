"""Real services for the test run: one embedded PostgreSQL, and a Redis.

PostgreSQL: `WELLCOACH_TEST_DATABASE_URL` when set (must have pgvector), else an
embedded server in a temporary directory, started once per run. The machine's
own PostgreSQL on :5432 has no pgvector, so it is never used.
Redis: `WELLCOACH_TEST_REDIS_URL` when set, else 127.0.0.1:6379 when it answers,
else an embedded Valkey.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis
import uvicorn
from pydantic import SecretStr

from wellcoach.config import LlmSettings, RagSettings, Settings
from wellcoach.runtime import postgres, valkey
from wellcoach.runtime.services import to_async_url, to_libpq_url

# the database index the suite uses (and flushes) on a Redis it finds on 127.0.0.1:6379
TEST_REDIS_DB = int(os.environ.get("WELLCOACH_TEST_REDIS_DB", "13"))


@dataclass
class TestServices:
    database_url: str
    redis_url: str
    cleanups: list = field(default_factory=list)

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            cleanup()


def start_test_services() -> TestServices:
    cleanups = []
    base = Path(tempfile.mkdtemp(prefix="wellcoach-test-"))
    base.chmod(0o755)
    cleanups.append(lambda: shutil.rmtree(base, ignore_errors=True))

    configured_db = os.environ.get("WELLCOACH_TEST_DATABASE_URL")
    if configured_db:
        database_url = to_async_url(configured_db)
        with psycopg.connect(to_libpq_url(database_url), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    else:
        handle = postgres.start_postgres(base / "pg", database="wellcoach_test")
        database_url = handle.url("wellcoach_test")
        cleanups.append(lambda: postgres.stop_postgres(base / "pg", mode="immediate"))

    redis_url = os.environ.get("WELLCOACH_TEST_REDIS_URL") or ""
    if not redis_url:
        if _redis_answers("redis://127.0.0.1:6379/0"):
            redis_url = f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"
        else:
            vhandle = valkey.start_valkey(base / "valkey")
            redis_url = f"redis://127.0.0.1:{vhandle.port}/{TEST_REDIS_DB}"
            cleanups.append(lambda: valkey.stop_valkey(base / "valkey"))
    return TestServices(database_url, redis_url, cleanups)


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def fresh_database(database_url: str, name: str) -> str:
    """A new, migrated database on the same server (for tests that need global state)."""
    from sqlalchemy.engine import make_url

    from wellcoach.db import migrate

    url = make_url(database_url)
    admin = to_libpq_url(url.set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    target = url.set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(target)
    return target


@contextmanager
def running_app(settings: Settings) -> Iterator[str]:
    """The real ASGI app (FastAPI + Socket.IO) on a loopback port, in its own thread,
    until the block ends; yields its base URL once /ready answers."""
    from api.main import create_asgi_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_asgi_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        # as `wellcoach api` runs it
        proxy_headers=True,
        forwarded_allow_ips=settings.api.trusted_proxies,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


def with_model(settings: Settings, base_url: str, llm: LlmSettings, **more: object) -> Settings:
    """`settings` with a model: the OpenAI-compatible test double at `base_url`, the
    offline embedder for retrieval (the double embeds nothing), and `more` on top."""
    return settings.model_copy(
        update={
            "openai_base_url": base_url,
            "openai_api_key": SecretStr("sk-test"),
            "llm": llm,
            "rag": RagSettings(embedder="use"),
            **more,
        }
    )
