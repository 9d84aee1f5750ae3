"""The supervisor of `wellcoach up`: restarts with back-off, without ever waiting on one.

`test_up_e2e.py` runs the real `wellcoach up`; these drive one `Supervisor` with small
stand-in children, to pin down what a back-off may and may not hold up.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import redis

from cli.supervisor import Backoff, Child, Supervisor
from wellcoach.config import Settings, SupervisorSettings
from wellcoach.runtime import valkey
from wellcoach.runtime.services import ServiceUrls, start_embedded_valkey, valkey_dir

CRASH = [sys.executable, "-c", "raise SystemExit(3)"]
SLEEP = [sys.executable, "-c", "import time; time.sleep(120)"]
IGNORE_SIGTERM = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)",
]


def _settings(data_dir: Path, **supervisor: float) -> Settings:
    return Settings(
        _env_file=None,
        env="test",
        data_dir=data_dir,
        database_url="postgresql://nobody@/none",
        redis_url="redis://127.0.0.1:1/0",
        supervisor=SupervisorSettings(**supervisor),
    )


def _supervisor(settings: Settings, urls: ServiceUrls | None = None) -> Supervisor:
    return Supervisor(
        settings=settings,
        urls=urls
        or ServiceUrls("postgresql://nobody@/none", "redis://127.0.0.1:1/0", False, False),
    )


class Events(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)

    def wait_for(self, text: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self):
                if text in message:
                    return message
            time.sleep(0.02)
        raise AssertionError(f"no event with {text!r} in {list(self)}")


def test_backoff_doubles_on_quick_deaths_and_forgets_them_after_a_stable_run() -> None:
    backoff = Backoff(first=2, cap=30, stable_after=5)
    assert backoff.died(ran_for=60, now=100) == 0  # a crash after a long run: at once
    assert backoff.due(100)
    delays = [backoff.died(ran_for=0.5, now=100) for _ in range(6)]
    assert delays == [2, 4, 8, 16, 30, 30]
    assert not backoff.due(129.9) and backoff.due(130)
    assert backoff.died(ran_for=10, now=200) == 0
    assert backoff.died(ran_for=1, now=200) == 2


def test_a_child_in_back_off_holds_up_neither_the_others_nor_a_stop(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path / "var",
        restart_backoff_seconds=60,
        restart_backoff_max_seconds=60,
        stable_after_seconds=2,
    )
    supervisor = _supervisor(settings)
    crasher = Child("crasher", CRASH, backoff=Backoff.from_settings(settings.supervisor))
    sleeper = Child("sleeper", SLEEP, backoff=Backoff.from_settings(settings.supervisor))
    supervisor.children = [crasher, sleeper]
    env: dict[str, str] = {}
    for child in supervisor.children:
        child.start(env, supervisor.log_dir)
    events = Events()
    loop = threading.Thread(target=supervisor.supervise, args=(events, 0.05))
    loop.start()
    try:
        events.wait_for("crasher exited (code 3); restart #1 in 60s")
        # meanwhile another child dies after a stable run: it is restarted at once
        time.sleep(max(0.0, sleeper.started_at + 2.1 - time.monotonic()))
        assert sleeper.process is not None
        first = sleeper.process.pid
        sleeper.process.kill()
        events.wait_for("sleeper exited (code -9); restart #1 now")
        deadline = time.monotonic() + 10
        while not (sleeper.alive() and sleeper.process.pid != first):
            assert time.monotonic() < deadline, list(events)
            time.sleep(0.02)
        assert crasher.waiting and not crasher.alive()
    finally:
        asked = time.monotonic()
        supervisor.stopping = True  # what the SIGINT/SIGTERM handler does
        loop.join(15)
        stopped_in = time.monotonic() - asked
        supervisor.shutdown(keep_services=True)
    assert not loop.is_alive()
    assert stopped_in < 15  # a generous bound: the minute of back-off is not waited for
    assert not sleeper.alive()
    assert crasher.restarts == 1  # never started again during its back-off


def test_shutdown_kills_children_that_ignore_sigterm(tmp_path: Path) -> None:
    supervisor = _supervisor(_settings(tmp_path / "var", stop_timeout_seconds=1))
    supervisor.children = [Child("stubborn", IGNORE_SIGTERM), Child("other", IGNORE_SIGTERM)]
    for child in supervisor.children:
        child.start({}, supervisor.log_dir)
    time.sleep(0.5)  # let them install their handler
    pids = [child.process.pid for child in supervisor.children if child.process]
    assert supervisor.shutdown(keep_services=True) == []
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    assert [child.process.returncode for child in supervisor.children if child.process] == [
        -signal.SIGKILL,
        -signal.SIGKILL,
    ]


@pytest.fixture
def embedded_valkey(tmp_path: Path):
    settings = _settings(tmp_path / "var", restart_backoff_seconds=0.2)
    settings = settings.model_copy(update={"redis_url": None})
    handle = start_embedded_valkey(settings)
    try:
        yield settings, handle
    finally:
        valkey.stop_valkey(valkey_dir(settings))


def test_a_killed_embedded_valkey_comes_back_on_its_port_with_its_password(
    embedded_valkey,
) -> None:
    settings, handle = embedded_valkey
    supervisor = _supervisor(
        settings, ServiceUrls("postgresql://nobody@/none", handle.url, False, True)
    )
    supervisor.servers = supervisor.embedded_servers()
    assert [server.name for server in supervisor.servers] == ["Valkey"]
    client = redis.Redis.from_url(handle.url, socket_timeout=2)
    client.set("kept", "yes")  # in the append-only file once answered
    events = Events()

    def tick_until(text: str) -> str:
        deadline = time.monotonic() + 10
        while not any(text in message for message in events):
            assert time.monotonic() < deadline, list(events)
            supervisor.tick({}, events)
            time.sleep(0.05)
        return events.wait_for(text)

    assert handle.pid is not None
    server = psutil.Process(handle.pid)
    server.kill()
    server.wait(5)
    # its port is held by someone else for a while: the restart waits, the loop goes on
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
        squatter.bind(("127.0.0.1", handle.port))
        squatter.listen()
        failed = tick_until("Valkey restart failed")
        assert f"port {handle.port}" in failed and "next attempt in" in failed
        assert handle.password is not None and handle.password not in failed
    tick_until("embedded Valkey is running again")
    assert events[0] == "embedded Valkey stopped; restarting it"
    again = valkey.running_valkey(valkey_dir(settings))
    assert again is not None and again.pid != handle.pid
    assert again.url == handle.url  # same port, same password: every URL stays valid
    assert client.get("kept") == b"yes"
    client.close()
