"""`wellcoach up`: one command that runs the whole platform and stops it cleanly.

The supervisor resolves the services (starting the embedded ones), migrates,
then runs the API, the worker, the scheduler and the dashboard as child
processes that receive the service URLs in their environment. It restarts a
child or an embedded server that dies (an embedded server on the same port with
the same credentials, so the URLs the children hold stay valid), and on
Ctrl-C/SIGTERM stops children first, then the embedded servers, so nothing is
left orphaned.

The loop never sleeps longer than a fraction of a second: a process that keeps
crashing waits for its restart in a per-process "not before" time that each tick
checks, so its back-off delays neither the other checks nor a shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import structlog

from wellcoach.config import Settings, SupervisorSettings
from wellcoach.db import migrate
from wellcoach.platform import open_platform
from wellcoach.rag.ingest import IngestReport
from wellcoach.rag.service import sync_shipped
from wellcoach.runtime import postgres, valkey
from wellcoach.runtime.keys import ensure_master_key
from wellcoach.runtime.services import (
    ServiceUrls,
    pgdata_dir,
    resolve_services,
    start_embedded_postgres,
    start_embedded_valkey,
    stop_embedded,
    valkey_dir,
)

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
class Backoff:
    """When a process that died may start again.

    At once when it had run for `stable_after` seconds (a crash, not a crash loop);
    otherwise after `first` seconds, doubling with each quick death, up to `cap`. The
    supervisor asks `due()` on each tick instead of sleeping the delay away."""

    first: float = 2.0
    cap: float = 30.0
    stable_after: float = 5.0
    quick_deaths: int = 0
    not_before: float = 0.0

    def died(self, ran_for: float, now: float) -> float:
        """Record a death after `ran_for` seconds of life; returns the delay chosen."""
        if ran_for >= self.stable_after:
            self.quick_deaths = 0
            delay = 0.0
        else:
            self.quick_deaths += 1
            delay = min(self.cap, self.first * 2 ** (self.quick_deaths - 1))
        self.not_before = now + delay
        return delay

    def due(self, now: float) -> bool:
        return now >= self.not_before

    def reset(self) -> None:
        self.quick_deaths = 0
        self.not_before = 0.0

    @classmethod
    def from_settings(cls, settings: SupervisorSettings) -> Backoff:
        return cls(
            first=settings.restart_backoff_seconds,
            cap=settings.restart_backoff_max_seconds,
            stable_after=settings.stable_after_seconds,
        )


def _open_private_log(path: Path) -> int:
    """A log file only its owner reads: logs carry ids, paths and stack traces."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)  # also a file an earlier version created with the umask's mode
    return fd


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    log_path: Path | None = None
    backoff: Backoff = field(default_factory=Backoff)
    waiting: bool = False  # dead, its restart scheduled at `backoff.not_before`

    def start(self, env: dict[str, str], log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_dir.chmod(0o700)
        self.log_path = log_dir / f"{self.name}.log"
        fd = _open_private_log(self.log_path)
        try:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                self.argv, env=env, stdout=fd, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            os.close(fd)
        self.started_at = time.monotonic()
        self.waiting = False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        """SIGTERM its whole process group (uvicorn, RQ's work horse, Streamlit's own)."""
        if self.alive():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def reap(self, deadline: float) -> None:
        """Wait for it until `deadline` (monotonic), then SIGKILL what is left."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)


@dataclass
class EmbeddedServer:
    """An embedded server the supervisor keeps running (PostgreSQL, Valkey)."""

    name: str
    running: Callable[[], bool]
    start: Callable[[], object]
    backoff: Backoff = field(default_factory=Backoff)
    started_at: float = field(default_factory=time.monotonic)
    down: bool = False


@dataclass
class Supervisor:
    settings: Settings
    urls: ServiceUrls
    children: list[Child] = field(default_factory=list)
    stopping: bool = False
    servers: list[EmbeddedServer] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api.host}:{self.settings.api.port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.settings.dashboard.host}:{self.settings.dashboard.port}"

    @property
    def log_dir(self) -> Path:
        return self.settings.data_path / "logs"

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
            Child("api", [*cli, "api"], backoff=self._backoff()),
            Child("worker", [*cli, "worker"], backoff=self._backoff()),
            Child("scheduler", [*cli, "cron"], backoff=self._backoff()),
            Child("dashboard", dashboard_argv(self.settings), backoff=self._backoff()),
        ]

    def _backoff(self) -> Backoff:
        return Backoff.from_settings(self.settings.supervisor)

    def embedded_servers(self) -> list[EmbeddedServer]:
        """The embedded servers this platform started, each with how to restart it."""
        servers = []
        if self.urls.embedded_postgres:
            pgdata = pgdata_dir(self.settings)
            servers.append(
                EmbeddedServer(
                    "PostgreSQL",
                    running=lambda: postgres.running_postgres(pgdata) is not None,
                    start=lambda: start_embedded_postgres(self.settings),
                    backoff=self._backoff(),
                )
            )
        if self.urls.embedded_redis:
            directory = valkey_dir(self.settings)
            port = urlsplit(self.urls.redis_url).port
            servers.append(
                EmbeddedServer(
                    "Valkey",
                    running=lambda: valkey.server_alive(directory),
                    start=lambda: self._restart_valkey(port),
                    backoff=self._backoff(),
                )
            )
        return servers

    def _restart_valkey(self, port: int | None) -> None:
        handle = start_embedded_valkey(self.settings, port=port)
        if handle.url != self.urls.redis_url:  # the password file changed under us
            raise RuntimeError("the embedded Valkey came back with another URL")

    def start_children(self) -> None:
        env = self.child_env()
        self.children = self.plan()
        for child in self.children:
            child.start(env, self.log_dir)

    def wait_healthy(
        self, timeout: float = 120.0, on_event: Callable[[str], None] = lambda message: None
    ) -> bool:
        """Wait for the API and the dashboard to answer; False when a child dies first (a
        broken start-up). An embedded server that dies meanwhile is restarted already."""
        if not self.servers:
            self.servers = self.embedded_servers()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping:
            for server in self.servers:
                self._check_server(server, on_event)
            if self._get_ok(self.api_url + "/ready") and self._get_ok(
                self.dashboard_url + "/_stcore/health"
            ):
                return True
            for child in self.children:
                if not child.alive():
                    return False
            time.sleep(0.25)
        return False

    def supervise(self, on_event: Callable[[str], None], interval: float = 1.0) -> None:
        """Restart what dies until asked to stop."""
        env = self.child_env()
        if not self.servers:
            self.servers = self.embedded_servers()
        while not self.stopping:
            self._pause(interval)
            if self.stop_requested():  # by the signal handler, while we slept
                break
            self.tick(env, on_event)

    def tick(self, env: dict[str, str], on_event: Callable[[str], None]) -> None:
        """One round of checks: embedded servers first (the children need them), then
        the children. Nothing here waits for a back-off."""
        for server in self.servers:
            if self.stopping:
                return
            self._check_server(server, on_event)
        for child in self.children:
            if self.stopping:
                return
            self._check_child(child, env, on_event)

    def _check_server(self, server: EmbeddedServer, on_event: Callable[[str], None]) -> None:
        now = time.monotonic()
        if not server.down:
            if server.running():
                return
            server.down = True
            server.backoff.died(now - server.started_at, now)
            on_event(f"embedded {server.name} stopped; restarting it")
        if not server.backoff.due(now):
            return
        try:
            server.start()
        except Exception as exc:  # keep supervising; try again after the back-off
            delay = server.backoff.died(0.0, time.monotonic())
            on_event(
                f"{server.name} restart failed: {type(exc).__name__}: {exc}; "
                f"next attempt in {delay:.0f}s"
            )
            return
        server.down = False
        server.started_at = time.monotonic()
        on_event(f"embedded {server.name} is running again")
        # children that crashed while it was down were waiting for it, not broken
        for child in self.children:
            if child.waiting:
                child.backoff.reset()

    def _check_child(
        self, child: Child, env: dict[str, str], on_event: Callable[[str], None]
    ) -> None:
        if child.alive():
            return
        now = time.monotonic()
        if not child.waiting:
            child.waiting = True
            child.restarts += 1
            delay = child.backoff.died(now - child.started_at, now)
            code = child.process.returncode if child.process is not None else None
            when = "now" if delay == 0 else f"in {delay:.0f}s"
            on_event(
                f"{child.name} exited (code {code}); restart #{child.restarts} {when} "
                f"(see {child.log_path})"
            )
        if child.backoff.due(now):
            child.start(env, self.log_dir)

    def _pause(self, seconds: float) -> None:
        """Sleep in slices, so a stop request is seen within a tenth of a second."""
        deadline = time.monotonic() + seconds
        while not self.stop_requested():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.1, left))

    def stop_requested(self) -> bool:
        return self.stopping

    def shutdown(self, keep_services: bool = False) -> list[str]:
        """Stop every child at once (SIGTERM, then SIGKILL after the stop timeout), then
        the embedded servers."""
        self.stopping = True
        for child in reversed(self.children):
            child.terminate()
        deadline = time.monotonic() + self.settings.supervisor.stop_timeout_seconds
        for child in reversed(self.children):
            child.reap(deadline)
        return [] if keep_services else stop_embedded(self.settings)

    @staticmethod
    def _get_ok(url: str) -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False


def prepare(settings: Settings, on_event: Callable[[str], None] = print) -> Supervisor:
    """Generate the master key on first start (only `up` does), resolve services,
    migrate, ingest the knowledge base if it changed: all before any child starts, so
    the API never serves an empty knowledge base."""
    generated = ensure_master_key(settings)
    if generated is not None:
        on_event(
            f"generated a master key in {generated}: it protects all personal data, back it"
            " up (or set WELLCOACH_MASTER_KEY)"
        )
    urls = resolve_services(settings, start=True)
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
