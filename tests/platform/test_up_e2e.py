"""`wellcoach up` as a user runs it: start, write, stop cleanly, start again, read."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from tests.support.data import KB_SMALL
from wellcoach.runtime import postgres

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
    )
    return env


def _start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_healthy(api: str, dashboard: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            health = httpx.get(api + "/health", timeout=2).json()
            dash = httpx.get(dashboard + "/_stcore/health", timeout=2).status_code
            if health["status"] == "healthy" and dash == 200:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise AssertionError("wellcoach up did not become healthy")


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    return output.decode()


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


def test_up_serves_reuses_data_and_stops_cleanly(tmp_path):
    data_dir = tmp_path / "var"
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
        # the embedded PostgreSQL dies: the supervisor starts it again, with its settings
        postgres.stop_postgres(data_dir / "postgres", mode="immediate")
        _wait_healthy(api, dashboard, second)
    finally:
        second_output = _stop(second)
    assert "knowledge base ingested" not in second_output  # unchanged: nothing to do
    assert "embedded PostgreSQL stopped; restarting it" in second_output
    assert "PostgreSQL restart failed" not in second_output
    time.sleep(1)
    assert _processes_under(data_dir) == []
