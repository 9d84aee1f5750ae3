"""`wellcoach up`: one command that runs the whole platform and stops it cleanly.

The supervisor resolves the services (starting the embedded ones), migrates,
then runs the API, the worker, the scheduler and the dashboard as child
processes that receive the service URLs in their environment. It restarts a
child or an embedded server that dies, and on Ctrl-C/SIGTERM stops children
first, then the embedded servers, so nothing is left orphaned.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import structlog

from wellcoach.config import Settings
from wellcoach.db import migrate
from wellcoach.platform import open_platform
from wellcoach.rag.ingest import IngestReport
from wellcoach.rag.service import sync_shipped
from wellcoach.runtime import postgres
from wellcoach.runtime.services import ServiceUrls, pgdata_dir, resolve_services, stop_embedded

log = structlog.get_logger(__name__)

# the dashboard ships in the same distribution, beside this package
DASHBOARD_APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


def dashboard_argv(settings: Settings) -> list[str]:
    """The command that serves the Streamlit dashboard, headless, sending no statistics."""
    # one flag and its value a line
    return [
        sys.executable, "-m", "streamlit", "run", str(DASHBOARD_APP),
        "--server.port", str(settings.dashboard.port),
        "--server.address", settings.dashboard.host,
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    log_path: Path | None = None

    def start(self, env: dict[str, str], log_dir: Path) -> None:
        self.log_path = log_dir / f"{self.name}.log"
        handle = open(self.log_path, "ab")  # the child keeps its own copy of the descriptor
        self.process = subprocess.Popen(
            self.argv, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        except ProcessLookupError:
            pass


@dataclass
class Supervisor:
    settings: Settings
    urls: ServiceUrls
    children: list[Child] = field(default_factory=list)
    stopping: bool = False

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api.host}:{self.settings.api.port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.settings.dashboard.host}:{self.settings.dashboard.port}"

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["WELLCOACH_DATABASE_URL"] = self.urls.database_url
        env["WELLCOACH_REDIS_URL"] = self.urls.redis_url
        env["WELLCOACH_DATA_DIR"] = str(self.settings.data_path)
        env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
        return env

    def plan(self) -> list[Child]:
        cli = [sys.executable, "-m", "cli.main"]
        return [
            Child("api", [*cli, "api"]),
            Child("worker", [*cli, "worker"]),
            Child("scheduler", [*cli, "cron"]),
            Child("dashboard", dashboard_argv(self.settings)),
        ]

    def start_children(self) -> None:
        log_dir = self.settings.data_path / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        env = self.child_env()
        self.children = self.plan()
        for child in self.children:
            child.start(env, log_dir)

    def wait_healthy(self, timeout: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping:
            if self._get_ok(self.api_url + "/ready") and self._get_ok(
                self.dashboard_url + "/_stcore/health"
            ):
                return True
            for child in self.children:
                if not child.alive():
                    return False
            time.sleep(0.25)
        return False

    def supervise(self, on_event: Callable[[str], None], interval: float = 2.0) -> None:
        """Restart what dies until asked to stop."""
        env = self.child_env()
        while not self.stopping:
            time.sleep(interval)
            if self.stop_requested():  # by the signal handler, while we slept
                break
            if (
                self.urls.embedded_postgres
                and postgres.running_postgres(pgdata_dir(self.settings)) is None
            ):
                on_event("embedded PostgreSQL stopped; restarting it")
                try:
                    postgres.start_postgres(
                        pgdata_dir(self.settings),
                        server_settings=self.settings.db.embedded_server,
                    )
                except Exception as exc:  # keep supervising; try again next tick
                    on_event(f"PostgreSQL restart failed: {type(exc).__name__}")
            for child in self.children:
                if not child.alive() and not self.stopping:
                    child.restarts += 1
                    on_event(
                        f"{child.name} exited; restart #{child.restarts} (see {child.log_path})"
                    )
                    # back off if it keeps crashing right after start
                    if time.monotonic() - child.started_at < 5:
                        time.sleep(min(30, 2**child.restarts))
                    child.start(env, self.settings.data_path / "logs")

    def stop_requested(self) -> bool:
        return self.stopping

    def shutdown(self, keep_services: bool = False) -> list[str]:
        self.stopping = True
        for child in reversed(self.children):
            child.stop()
        return [] if keep_services else stop_embedded(self.settings)

    @staticmethod
    def _get_ok(url: str) -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False


def prepare(settings: Settings, on_event: Callable[[str], None] = print) -> Supervisor:
    """Resolve services, migrate, ingest the knowledge base if it changed: all before
    any child starts, so the API never serves an empty knowledge base."""
    urls = resolve_services(settings)
    migrate.upgrade(urls.database_url)
    report = sync_knowledge_base(settings, urls)
    if report is not None:
        on_event(
            f"knowledge base ingested: {len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.removed)} removed (version {report.kb_version})"
        )
    return Supervisor(settings=settings, urls=urls)


def sync_knowledge_base(settings: Settings, urls: ServiceUrls) -> IngestReport | None:
    """Ingest the shipped knowledge base on first start and whenever its files change."""

    async def run() -> IngestReport | None:
        platform = await open_platform(settings, urls)
        try:
            async with platform.unit_of_work() as session:
                return await sync_shipped(session, settings, platform.embedder)
        finally:
            await platform.close()

    return asyncio.run(run())
