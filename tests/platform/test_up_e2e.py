"""`wellcoach up` as a user runs it: start, write, stop cleanly, start again, read; its
embedded servers and processes die and come back; Ctrl-C stops it even mid back-off."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
import redis

from tests.support.data import KB_SMALL
from wellcoach.runtime import postgres, valkey

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(data_dir: Path, api_port: int, dash_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WELLCOACH_")}
    env.update(
        WELLCOACH_DATA_DIR=str(data_dir),
        WELLCOACH_API__PORT=str(api_port),
        WELLCOACH_DASHBOARD__PORT=str(dash_port),
        WELLCOACH_LOG_LEVEL="WARNING",
        # a four-document corpus keeps the first start quick; `up` ingests it
        WELLCOACH_RAG__KB_PATH=str(KB_SMALL),
        # a process that dies right after its restart waits a minute: long enough that a
        # shutdown which waited for a back-off would be seen
        WELLCOACH_SUPERVISOR__RESTART_BACKOFF_SECONDS="60",
        WELLCOACH_SUPERVISOR__RESTART_BACKOFF_MAX_SECONDS="60",
        COLUMNS="400",  # rich wraps its messages at 80 columns otherwise
    )
    return env


class Up:
    """A running `wellcoach up`, its output read as it comes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "up"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.decode(errors="replace"))

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def poll(self) -> int | None:
        return self.process.poll()

    def wait_for_output(self, text: str, since: int = 0, timeout: float = 30) -> None:
        """Wait until `text` is printed, in the lines from `since` on."""
        deadline = time.monotonic() + timeout
        while text not in "".join(self.lines[since:]):
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.output}"
            time.sleep(0.1)

    def child(self, *words: str) -> psutil.Process:
        """The child process whose command line holds `words` (waiting for its start)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for proc in psutil.Process(self.process.pid).children():
                try:
                    cmdline = proc.cmdline()
                except psutil.Error:
                    continue
                if all(word in cmdline for word in words) and proc.status() != "zombie":
                    return proc
            time.sleep(0.05)
        raise AssertionError(f"no child {words} of wellcoach up:\n{self.output}")


def _start(env: dict[str, str]) -> Up:
    return Up(env)


def _wait_healthy(api: str, dashboard: str, process: Up, timeout: float = 150) -> None:
    """Healthy, and `up` says so (past its start-up, supervising)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.output
        try:
            health = httpx.get(api + "/health", timeout=2).json()
            dash = httpx.get(dashboard + "/_stcore/health", timeout=2).status_code
            if health["status"] == "healthy" and dash == 200:
                process.wait_for_output("press Ctrl-C to stop")
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"wellcoach up did not become healthy:\n{process.output}")


def _stop(up: Up) -> str:
    if up.poll() is None:
        up.process.send_signal(signal.SIGINT)
    up.process.wait(timeout=60)
    up._reader.join(10)
    return up.output


def _status(env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "status", "--json"],
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def _processes_under(data_dir: Path) -> list[str]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(data_dir) in cmdline:
            found.append(cmdline)
    return found


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data dir outside pytest's temporary root: as root, the embedded PostgreSQL runs
    as another user, who must traverse every parent directory, and every pytest session
    on the machine resets /tmp/pytest-of-<user> to 0700 and removes old runs' dirs."""
    base = Path(tempfile.mkdtemp(prefix="wellcoach-e2e-"))
    base.chmod(0o755)
    try:
        yield base / "var"
    finally:  # whatever a failed run left behind
        valkey.stop_valkey(base / "var" / "valkey")
        postgres.stop_postgres(base / "var" / "postgres", mode="immediate")
        shutil.rmtree(base, ignore_errors=True)


def _answers_while_the_database_is_down(api: str) -> list[tuple[int, str | None]]:
    """Logins (which read the database) sent until one is answered by a database again;
    four at most, under the login limit of five per address and ten minutes."""
    answers: list[tuple[int, str | None]] = []
    for _ in range(4):
        response = httpx.post(
            api + "/v1/auth/login",
            json={"email": "nobody@example.com", "password": "not the password"},
            headers={"X-Request-ID": f"db-down-{len(answers)}"},
            timeout=10,
        )
        answers.append((response.status_code, response.headers.get("Retry-After")))
        if response.status_code != 503:
            break
        time.sleep(0.5)
    return answers


def test_up_serves_reuses_data_and_stops_cleanly(data_dir: Path) -> None:
    api_port, dash_port = _free_port(), _free_port()
    env = _env(data_dir, api_port, dash_port)
    api, dashboard = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{dash_port}"

    first = _start(env)
    try:
        _wait_healthy(api, dashboard, first)
        status = _status(env)
        assert status["api"]["status"] == "healthy"
        kb_stats = subprocess.run(
            [sys.executable, "-m", "cli.main", "kb", "stats", "--json"],
            env=env,
            capture_output=True,
            check=True,
            timeout=60,
        )
        assert json.loads(kb_stats.stdout)["documents"] == 4
        with psycopg.connect(status["database_url"], autocommit=True) as conn:
            conn.execute("CREATE TABLE e2e_probe (v text)")
            conn.execute("INSERT INTO e2e_probe VALUES ('written before restart')")
    finally:
        output = _stop(first)
    assert first.returncode == 0, output
    assert "knowledge base ingested: 4 added" in output
    assert "stopped" in output
    time.sleep(1)
    assert _processes_under(data_dir) == []

    second = _start(env)
    try:
        _wait_healthy(api, dashboard, second)
        with psycopg.connect(_status(env)["database_url"]) as conn:
            assert conn.execute("SELECT v FROM e2e_probe").fetchone() == ("written before restart",)
            assert conn.execute("SHOW shared_buffers").fetchone() == ("1GB",)
        _assert_private_files(data_dir)
        # the embedded PostgreSQL dies: while it is down, requests get a 503 with
        # Retry-After (never a 500); the supervisor starts it again, with its settings
        postgres.stop_postgres(data_dir / "postgres", mode="immediate")
        answers = _answers_while_the_database_is_down(api)
        assert answers and all(code in (401, 503) for code, _ in answers), answers
        assert all(retry for code, retry in answers if code == 503), answers
        _wait_healthy(api, dashboard, second)
        _valkey_dies_and_comes_back(env, data_dir, api, second)
        # the scheduler dies twice in a row: its next restart waits (60 s here), and a
        # Ctrl-C during that wait stops everything at once
        scheduler = second.child("cron")
        time.sleep(max(0.0, scheduler.create_time() + 6 - time.time()))  # a stable run
        since = len(second.lines)
        scheduler.kill()
        second.wait_for_output("scheduler exited (code -9); restart #", since)
        second.wait_for_output(" now ", since)
        second.child("cron").kill()  # the new one, seconds after its start
        second.wait_for_output(" in 60s ", since)
        asked = time.monotonic()
        second.process.send_signal(signal.SIGINT)
        second.process.wait(timeout=60)
        stopped_in = time.monotonic() - asked
    finally:
        second_output = _stop(second)
    assert second.returncode == 0, second_output
    assert stopped_in < 15, f"shutdown took {stopped_in:.1f}s:\n{second_output}"
    assert "knowledge base ingested" not in second_output  # unchanged: nothing to do
    assert "embedded PostgreSQL stopped; restarting it" in second_output
    assert "PostgreSQL restart failed" not in second_output
    assert "embedded Valkey stopped; restarting it" in second_output
    assert "Valkey restart failed" not in second_output
    time.sleep(1)
    assert _processes_under(data_dir) == []


def _valkey_dies_and_comes_back(env: dict[str, str], data_dir: Path, api: str, up: Up) -> None:
    """Killed, the embedded Valkey comes back on its port with its password: the URL every
    process holds stays valid, and the API is ready again."""
    url = _status(env)["redis_url"]
    password = (data_dir / "valkey" / "password").read_text().strip()
    assert url.startswith(f"redis://:{password}@127.0.0.1:")
    with pytest.raises(redis.AuthenticationError):  # no password, no access
        redis.Redis.from_url(url.replace(f":{password}@", ""), socket_timeout=2).ping()
    pid = int((data_dir / "valkey" / "valkey.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not _ready(api):
        assert up.poll() is None, up.output
        assert time.monotonic() < deadline, f"the API is not ready again:\n{up.output}"
        time.sleep(0.25)
    client = redis.Redis.from_url(url, socket_timeout=2)  # the URL from before the kill
    assert client.ping()
    client.close()
    assert int((data_dir / "valkey" / "valkey.pid").read_text()) != pid
    assert _status(env)["redis_url"] == url
    up.wait_for_output("embedded Valkey is running again")
    _assert_private_files(data_dir)


def _ready(api: str) -> bool:
    try:
        return httpx.get(api + "/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _assert_private_files(data_dir: Path) -> None:
    """The data dir is its owner's (as root: traversable by its group, which the embedded
    PostgreSQL's server keeps); the logs and Valkey's files, password first, are the
    owner's only."""
    info = data_dir.stat()
    if os.geteuid() == 0:
        assert stat.S_IMODE(info.st_mode) == 0o710
        assert info.st_gid == os.getegid()
    else:
        assert stat.S_IMODE(info.st_mode) == 0o700
    password = data_dir / "valkey" / "password"
    assert stat.S_IMODE(password.stat().st_mode) == 0o600
    assert len(password.read_text().strip()) >= 32
    private = [*(data_dir / "valkey").rglob("*"), *(data_dir / "logs").rglob("*")]
    assert {p.name for p in (data_dir / "logs").glob("*.log")} >= {"api.log", "scheduler.log"}
    for path in private:
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
