"""Fixtures: real PostgreSQL + pgvector and real Redis, one set per test run.

The schema is migrated up, down and up again once per run. Each test runs in a
transaction that is rolled back (sessions join it with savepoints), and flushes
its own Redis database.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api.main import create_app
from tests.doubles.openai_server import FakeOpenAIServer
from tests.support.clients import make_client
from tests.support.data import KB_SMALL
from tests.support.services import TestServices, running_app, start_test_services, with_model
from tests.support.units import savepoint_units
from wellcoach.config import AuthSettings, LlmSettings, RateLimitSettings, Settings, get_settings
from wellcoach.crypto.envelope import encode_key, generate_key
from wellcoach.db import migrate
from wellcoach.platform import Platform, open_platform
from wellcoach.rag.ingest import ingest
from wellcoach.runtime.services import ServiceUrls


@pytest.fixture(scope="session")
def services() -> Iterator[TestServices]:
    started = start_test_services()
    try:
        migrate.upgrade(started.database_url)
        migrate.downgrade(started.database_url, "base")
        migrate.upgrade(started.database_url)
        yield started
    finally:
        started.close()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def master_key() -> str:
    return encode_key(generate_key())


@pytest.fixture(scope="session")
def settings(services: TestServices, data_dir: Path, master_key: str) -> Settings:
    return Settings(
        _env_file=None,
        env="test",
        data_dir=data_dir,
        database_url=services.database_url,
        redis_url=services.redis_url,
        master_key=master_key,
        log_json=True,
        log_level="WARNING",
        # bcrypt at cost 4 keeps the suite fast; cost 12 is measured in bench/
        auth=AuthSettings(bcrypt_rounds=4),
        # the machines running the suite are shared and loaded: a slow Redis answer must
        # not make the gate fail open in the middle of a boundary test
        ratelimit=RateLimitSettings(redis_timeout_seconds=5.0),
    )


@pytest.fixture(scope="session")
async def platform(settings: Settings, services: TestServices) -> AsyncIterator[Platform]:
    urls = ServiceUrls(services.database_url, services.redis_url, False, False)
    opened = await open_platform(settings, urls)
    yield opened
    await opened.close()


@pytest.fixture
async def db_session(platform: Platform) -> AsyncIterator[AsyncSession]:
    """A session inside an outer transaction that is always rolled back."""
    async with platform.database.engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture(autouse=True)
async def _clean_redis(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    if "platform" in request.fixturenames:
        platform: Platform = request.getfixturevalue("platform")
        await platform.redis.flushdb()
    yield


@pytest.fixture
def app(settings: Settings, platform: Platform, db_session: AsyncSession) -> FastAPI:
    """The app on the test platform, its sessions inside the test's transaction (so the
    test sees its writes, and all is rolled back)."""
    assert isinstance(db_session.bind, AsyncConnection)
    return create_app(settings, platform, units=savepoint_units(db_session.bind))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as http:
        yield http


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, services: TestServices, data_dir: Path, master_key: str
) -> Iterator[None]:
    """Environment for CLI commands run in-process: they read settings like a user's shell."""
    monkeypatch.setenv("WELLCOACH_DATABASE_URL", services.database_url)
    monkeypatch.setenv("WELLCOACH_REDIS_URL", services.redis_url)
    monkeypatch.setenv("WELLCOACH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("WELLCOACH_MASTER_KEY", master_key)
    monkeypatch.setenv("WELLCOACH_LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """An OpenAI-compatible server on loopback, one per test module."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def live_server(settings: Settings) -> Iterator[str]:
    """The real ASGI app (FastAPI + Socket.IO) on a loopback port, in its own thread."""
    with running_app(settings) as url:
        yield url


@pytest.fixture
async def kb(db_session, platform, tmp_path):
    """The small corpus, ingested inside the test's transaction."""
    corpus = tmp_path / "kb"
    shutil.copytree(KB_SMALL, corpus)
    await db_session.execute(text("DELETE FROM kb_documents"))
    await ingest(db_session, platform.settings, platform.embedder, corpus)
    await db_session.flush()


@pytest.fixture
async def openai_client(
    settings: Settings, platform: Platform, fake_openai: FakeOpenAIServer, app: FastAPI
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app answered by the OpenAI-compatible test double."""
    fake_openai.reset()
    llm = LlmSettings(provider="openai", request_timeout_seconds=1.0, max_retries=0)
    configured = with_model(settings, fake_openai.base_url, llm)
    application = create_app(configured, platform.with_settings(configured), units=app.state.units)
    async with make_client(application) as http:
        yield http
