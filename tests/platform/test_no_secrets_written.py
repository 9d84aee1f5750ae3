"""Nothing the platform writes carries a user's secrets or words. `wellcoach api` runs as
a process, logging JSON at INFO into its data dir, with its own Valkey there (append-only,
so what it keeps in Redis is on disk too). It goes through sign-up, verification, a
failed and a good login, a profile update, a conversation (answered now and queued), a
password change, refused inputs (NUL bytes and other control characters in every kind
of field, a message with nothing visible, staff self-registration), then Redis going
down under it (logins fail closed, two-factor and chat meet an outage). Then every line
it printed and every file in its data dir are searched for the user's email, passwords,
password hash, tokens, name and messages.

The same is checked in-process for an unexpected error (a driver error quoting the
user's values, an exception whose message holds them) and for the standard library's
loggers."""

from __future__ import annotations

import logging
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
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from api.deps import SessionDep
from tests.support.factories import unique_email
from wellcoach.models import EmailOutbox, User
from wellcoach.runtime import valkey

PASSWORD = "correct horse battery staple 7"
NEW_PASSWORD = "another long passphrase 8"
NAME = "Zebedia Quintavalle"
MESSAGES = (
    "Before my derby I cannot sleep and I think about my father's illness",
    "Giulietta from my team keeps laughing at my serve",
    "Queued words: Ottaviano and the broken racket",
)
# fragments of the above a partial leak would still show
FRAGMENTS = ("Zebedia", "Quintavalle", "Giulietta", "father's illness", "Ottaviano")


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
def _api_process(
    database_url: str, redis_url: str, master_key: str, data_dir: Path
) -> Iterator[str]:
    """`wellcoach api` as `wellcoach up` runs it: its own process, its output in
    `<data dir>/logs/api.log`."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (data_dir / "logs").mkdir(parents=True)
    env = dict(
        os.environ,
        WELLCOACH_DATABASE_URL=database_url,
        WELLCOACH_REDIS_URL=redis_url,
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


async def _refused(http: httpx.AsyncClient, method: str, path: str, **kwargs) -> None:
    response = await http.request(method, path, **kwargs)
    assert response.status_code == 422, response.text


async def test_logs_and_data_files_hold_no_personal_data(services, master_key, platform, tmp_path):
    data_dir = tmp_path / "data"
    redis_dir = data_dir / "valkey"
    redis_url = valkey.start_valkey(redis_dir).url
    email = unique_email("secret")
    seen: list[str] = []  # tokens the platform handed out: secrets too
    try:
        with _api_process(services.database_url, redis_url, master_key, data_dir) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                seen += await _through_the_api(http, platform, email)
                valkey.stop_valkey(redis_dir)  # flushes the append-only file
                await _through_an_outage(http, seen[0], email)
    finally:
        valkey.stop_valkey(redis_dir)
    async with platform.unit_of_work() as session:
        password_hash = await session.scalar(select(User.password_hash).where(User.email == email))
    assert password_hash

    log = (data_dir / "logs" / "api.log").read_text(encoding="utf-8", errors="replace")
    assert "Started server process" in log  # the server's own output is there too
    assert "service_unavailable" in log  # and what it said during the outage
    kept = b"".join(path.read_bytes() for path in redis_dir.glob("**/*.aof"))
    assert b"rq:job" in kept  # what Redis held, the queued reply included, is searched too
    secrets = [email, PASSWORD, NEW_PASSWORD, password_hash, NAME, *MESSAGES, *FRAGMENTS, *seen]
    for path in _written_files(data_dir):
        content = path.read_bytes().decode("utf-8", "replace")
        for secret in secrets:
            assert secret not in content, f"{secret[:12]}… found in {path.relative_to(data_dir)}"


async def _through_the_api(http: httpx.AsyncClient, platform, email: str) -> list[str]:
    """Every kind of request a user makes, good and refused; returns the tokens issued."""
    signup = {"email": email, "password": PASSWORD, "name": NAME}
    signup["consents"] = {"data_processing": True}
    for bad in (
        {"name": "Zeb\u0000edia"},
        {"sport": "ten\u0000nis"},
        {"team": "Roma\u0000"},
        {"name": "\u000bZebedia"},
        {"role": "coach"},
    ):
        await _refused(http, "POST", "/v1/auth/register", json=signup | bad)
    registered = await http.post("/v1/auth/register", json=signup)
    assert registered.status_code == 202, registered.text
    token = await _token_from_outbox(platform, email)
    assert (await http.post("/v1/auth/verify", json={"token": token})).status_code == 200
    wrong = await http.post("/v1/auth/login", json={"email": email, "password": "nope"})
    assert wrong.status_code == 401
    await _refused(
        http, "POST", "/v1/auth/login", json={"email": email, "password": PASSWORD + "\u0000"}
    )
    login = (await http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})).json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    for bad in (
        {"name": "Zeb\u0000edia"},
        {"team": "Roma\u0000"},
        {"avatar_config": {"accessories": ["hat\u0000"]}},
    ):
        await _refused(http, "PATCH", "/v1/me", headers=headers, json=bad)
    await _refused(
        http, "PUT", "/v1/me/consents", headers=headers, json={"policy_version": "2026\u001f11"}
    )
    chat = (await http.post("/v1/chat/sessions", headers=headers)).json()["id"]
    messages = f"/v1/chat/sessions/{chat}/messages"
    for bad in (
        {"content": "\u001f"},
        {"content": "\u200b \ufeff"},
        {"content": MESSAGES[0], "client_message_id": "id\u0000"},
    ):
        await _refused(http, "POST", messages, headers=headers, json=bad)
    for content in MESSAGES[:2]:
        turn = await http.post(messages, headers=headers, json={"content": content})
        assert turn.status_code == 200, turn.text
    queued = await http.post(
        messages, headers=headers, json={"content": MESSAGES[2], "mode": "async"}
    )
    assert queued.status_code == 202, queued.text  # a job waits in Redis: ids only
    changed = await http.post(
        "/v1/auth/password/change",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 200, changed.text
    fresh = changed.json()
    return [fresh["access_token"], token, login["refresh_token"], fresh["refresh_token"]]


async def _through_an_outage(http: httpx.AsyncClient, access: str, email: str) -> None:
    """Redis is down: every answer is a clean 4xx or 503, never a 500."""
    headers = {"Authorization": f"Bearer {access}"}
    login = await http.post("/v1/auth/login", json={"email": email, "password": NEW_PASSWORD})
    assert login.status_code == 503 and login.headers["Retry-After"], login.text
    chat = await http.post("/v1/chat/sessions", headers=headers)
    assert chat.status_code == 201, chat.text
    turn = await http.post(
        f"/v1/chat/sessions/{chat.json()['id']}/messages",
        headers=headers,
        json={"content": MESSAGES[1], "mode": "async"},
    )
    assert turn.status_code in (200, 202, 503), turn.text
    assert (await http.get("/v1/me", headers=headers)).status_code == 200


async def test_an_unexpected_error_is_answered_and_logged_without_values(app, client, capfd):
    """The original leak: a value PostgreSQL cannot store made the driver raise, and the
    log line quoted the statement's parameters (email, name, hash). Now the answer is a
    plain 500 and the log names the error's type and where it happened, nothing else."""
    email, password_hash = (
        unique_email("leak"),
        "$2b$04$abcdefghijklmnopqrstuv0123456789ABCDEFGHIJKLMNOPQRS",
    )

    async def store(session: SessionDep) -> None:
        await session.execute(
            text("SELECT :email, :name, :hash"),
            {"email": email, "name": "Zeb\u0000edia", "hash": password_hash},
        )

    async def fail() -> None:
        raise RuntimeError(f"cannot process {email} with {PASSWORD}")

    app.add_api_route("/test/store", store, methods=["POST"])
    app.add_api_route("/test/fail", fail, methods=["POST"])
    for path, error in (("/test/store", "DataError"), ("/test/fail", "RuntimeError")):
        response = await client.post(path)
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal_error"
        written = capfd.readouterr()
        assert "unhandled_error" in written.err and error in written.err
        for secret in (email, "Zebedia", password_hash, PASSWORD):
            assert secret not in written.err + written.out + response.text


async def test_driver_errors_hide_statement_parameters(db_session):
    """The engine's errors never quote what was sent (SQLAlchemy's `hide_parameters`),
    whoever logs or prints them."""
    with pytest.raises(DBAPIError) as raised:
        await db_session.execute(text("SELECT :name"), {"name": "Zeb\u0000edia Quintavalle"})
    assert "Quintavalle" not in str(raised.value)
    assert "hidden" in str(raised.value)


def test_exceptions_are_logged_without_their_messages(capfd):
    """A driver error quotes the values it refused: its message never reaches the log,
    from our loggers or from the standard library's (the server, Socket.IO, asyncio)."""
    from wellcoach.logging import configure_logging, get_logger

    configure_logging("INFO", json=True)
    try:
        raise ValueError("secret value 4242 from a user")
    except ValueError:
        get_logger("wellcoach.test").exception("failed")
        for name in ("asyncio", "engineio.server", "socketio.server", "uvicorn.error"):
            logging.getLogger(name).exception("handler error")
    err = capfd.readouterr().err
    assert err.count("ValueError") == 5, err
    assert "secret value 4242" not in err
