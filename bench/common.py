"""What the benchmarks share: their own embedded services, child processes on loopback
ports, CPU readings and percentiles. Imported by the scripts beside it (`python
bench/<script>.py` puts this folder first on sys.path)."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from wellcoach.config import LlmSettings, Settings
from wellcoach.crypto.envelope import encode_key, generate_key
from wellcoach.db import migrate
from wellcoach.runtime import postgres, valkey
from wellcoach.runtime.services import ServiceUrls

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def percentile(values: Iterable[float], q: float) -> float:
    """Linear-interpolated percentile (nan when empty)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and its live children (a PostgreSQL postmaster
    and its backends); children that exited are not counted."""
    import psutil

    try:
        parent = psutil.Process(pid)
        total = 0.0
        for proc in [parent, *parent.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total
    except psutil.Error:
        return None


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def clean_env() -> dict[str, str]:
    """This process's environment without any WELLCOACH_ setting."""
    return {key: value for key, value in os.environ.items() if not key.startswith("WELLCOACH_")}


def service_env(settings: Settings) -> dict[str, str]:
    """The environment of a wellcoach child process on the bench's own services."""
    return clean_env() | {
        "WELLCOACH_ENV": "development",
        "WELLCOACH_DATABASE_URL": settings.database_url.get_secret_value(),  # type: ignore[union-attr]
        "WELLCOACH_REDIS_URL": settings.redis_url.get_secret_value(),  # type: ignore[union-attr]
        "WELLCOACH_MASTER_KEY": settings.master_key.get_secret_value(),  # type: ignore[union-attr]
        "WELLCOACH_DATA_DIR": str(settings.data_dir),
        "WELLCOACH_AUTH__BCRYPT_ROUNDS": str(settings.auth.bcrypt_rounds),
        "WELLCOACH_LLM__PROVIDER": "offline",
        "WELLCOACH_LOG_LEVEL": "WARNING",
    }


def spawn(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A child in its own session, output appended to `log_path`."""
    log = log_path.open("ab")
    try:
        return subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()


def wait_http(proc: subprocess.Popen[bytes], url: str, what: str, timeout: float = 90.0) -> None:
    """Until `url` answers 200; fails early when the process exits."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with code {proc.returncode}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"{what} was not ready within {timeout:.0f}s")


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextmanager
def embedded_services(
    prefix: str, **overrides: Any
) -> Iterator[tuple[Path, Settings, ServiceUrls]]:
    """A temporary directory with its own migrated PostgreSQL and a Valkey, and Settings
    for them (offline LLM, `overrides` on top); everything is stopped and deleted after,
    also on SIGTERM."""

    def _terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)  # the embedded PostgreSQL runs as its own user when we are root
    pg_started = vk_started = False
    try:
        pg_started = True
        pg = postgres.start_postgres(base / "pg")
        vk_started = True
        vk = valkey.start_valkey(base / "valkey")
        database_url = pg.url()
        migrate.upgrade(database_url)
        settings = Settings(
            _env_file=None,
            env="development",
            data_dir=base / "data",
            database_url=database_url,
            redis_url=vk.url,
            master_key=encode_key(generate_key()),
            log_level="WARNING",
            llm=LlmSettings(provider="offline"),
            **overrides,
        )
        settings.data_path  # noqa: B018 - creates the data dir
        urls = ServiceUrls(database_url, vk.url, embedded_postgres=False, embedded_redis=False)
        yield base, settings, urls
    finally:
        if vk_started:
            valkey.stop_valkey(base / "valkey")
        if pg_started:
            postgres.stop_postgres(base / "pg", mode="immediate")
        shutil.rmtree(base, ignore_errors=True)
