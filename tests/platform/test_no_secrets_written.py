"""Nothing the platform writes carries a user's secrets or words: a live server, logging
JSON at INFO, goes through sign-up, verification, login, a profile update, refused
inputs (a NUL byte), a failed login, a conversation and a password change; then every
line it printed and every file in its data dir are searched for the
user's email, passwords, password hash and messages."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.support.factories import unique_email
from tests.support.services import TestServices
from wellcoach.models import EmailOutbox, User

PASSWORD = "correct horse battery staple 7"
NEW_PASSWORD = "another long passphrase 8"
MESSAGES = (
    "Before my derby I cannot sleep and I think about my father's illness",
    "Giulietta from my team keeps laughing at my serve",
)


async def _token_from_outbox(platform, email: str) -> str:
    async with platform.unit_of_work() as session:
        body = await session.scalar(
            select(EmailOutbox.body)
            .where(EmailOutbox.to_address == email, EmailOutbox.template == "verify_email")
            .order_by(EmailOutbox.created_at.desc())
        )
    match = re.search(r"token=([\w\-.]+)", body or "")
    assert match, "no verification email"
    return match.group(1)


def _written_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


@contextmanager
def _api_process(services: TestServices, master_key: str, data_dir: Path) -> Iterator[str]:
    """`wellcoach api` as `wellcoach up` runs it: its own process, its output in
    `<data dir>/logs/api.log`."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (data_dir / "logs").mkdir(parents=True)
    env = dict(
        os.environ,
        WELLCOACH_DATABASE_URL=services.database_url,
        WELLCOACH_REDIS_URL=services.redis_url,
        WELLCOACH_DATA_DIR=str(data_dir),
        WELLCOACH_MASTER_KEY=master_key,
        WELLCOACH_LOG_LEVEL="INFO",
        WELLCOACH_LOG_JSON="true",
        WELLCOACH_AUTH__BCRYPT_ROUNDS="4",
    )
    with open(data_dir / "logs" / "api.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "api", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)


async def test_logs_and_data_files_hold_no_personal_data(services, master_key, platform, tmp_path):
    data_dir = tmp_path / "data"
    email = unique_email("secret")
    with _api_process(services, master_key, data_dir) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            registered = await http.post(
                "/v1/auth/register",
                json={
                    "email": email,
                    "password": PASSWORD,
                    "name": "Zebedia Quintavalle",
                    "consents": {"data_processing": True},
                },
            )
            assert registered.status_code == 202, registered.text
            refused = await http.post(
                "/v1/auth/register",
                json={"email": email, "password": PASSWORD, "name": "Ze\u0000bedia"},
            )
            assert refused.status_code == 422
            token = await _token_from_outbox(platform, email)
            assert (await http.post("/v1/auth/verify", json={"token": token})).status_code == 200
            wrong = await http.post("/v1/auth/login", json={"email": email, "password": "nope"})
            assert wrong.status_code == 401
            login = await http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            nul = await http.patch("/v1/me", headers=headers, json={"name": "Zeb\u0000edia"})
            assert nul.status_code == 422
            chat = (await http.post("/v1/chat/sessions", headers=headers)).json()["id"]
            for text in MESSAGES:
                turn = await http.post(
                    f"/v1/chat/sessions/{chat}/messages", headers=headers, json={"content": text}
                )
                assert turn.status_code == 200, turn.text
            changed = await http.post(
                "/v1/auth/password/change",
                headers=headers,
                json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            )
            assert changed.status_code in (200, 204), changed.text
    async with platform.unit_of_work() as session:
        password_hash = await session.scalar(select(User.password_hash).where(User.email == email))
    assert password_hash

    files = _written_files(data_dir)
    log = (data_dir / "logs" / "api.log").read_text(encoding="utf-8", errors="replace")
    assert "Started server process" in log  # the server's own output is there too
    secrets = [email, PASSWORD, NEW_PASSWORD, password_hash, "Zebedia", "Quintavalle", *MESSAGES]
    secrets += ["Giulietta", "father's illness"]
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        for secret in secrets:
            assert secret not in text, f"{secret[:12]}… found in {path.relative_to(data_dir)}"


@pytest.mark.parametrize("logger_name", ["wellcoach.test"])
def test_exceptions_are_logged_without_their_messages(capfd, logger_name):
    """A driver error quotes the values it refused: its message never reaches the log."""
    from wellcoach.logging import configure_logging, get_logger

    configure_logging("INFO", json=True)
    try:
        raise ValueError("secret value 4242 from a user")
    except ValueError:
        get_logger(logger_name).exception("failed")
    err = capfd.readouterr().err
    assert "ValueError" in err and "secret value 4242" not in err
