"""`wellcoach users|mail|keys rotate-jwt` as an admin runs them."""

import json
import threading
import uuid
from email import message_from_bytes

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.support.factories import unique_email

runner = CliRunner()
PASSWORD = "a long enough admin passphrase"


def invoke(*args: str, input: str | None = None):
    result = runner.invoke(app, list(args), input=input)
    return result


def create(email: str, *extra: str) -> dict:
    result = invoke("users", "create", email, "--password", PASSWORD, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_create_show_and_list_by_email_or_id(cli_env):
    email = unique_email("cli")
    created = create(
        email,
        "--name",
        "Chiara",
        "--role",
        "coach",
        "--tier",
        "premium",
        "--verified",
        "--consent",
        "health_data",
        "--consent",
        "data_processing",
        "--language",
        "it",
    )
    assert created["role"] == "coach" and created["tier"] == "premium"
    assert created["email_verified"] is True
    assert created["consent"] == {"data_processing": True, "health_data": True, "marketing": False}
    assert created["preferences"]["language"] == "it"

    by_id = json.loads(invoke("users", "show", created["id"], "--json").stdout)
    by_email = json.loads(invoke("users", "show", email.upper(), "--json").stdout)
    assert by_id == by_email
    table = invoke("users", "show", email)
    assert "Chiara" in table.stdout

    listed = json.loads(invoke("users", "list", "--role", "coach", "--json").stdout)
    assert email in {row["email"] for row in listed}
    assert all(row["role"] == "coach" for row in listed)


def test_create_refuses_duplicates_and_weak_passwords(cli_env):
    email = unique_email("cli")
    create(email)
    again = invoke("users", "create", email, "--password", PASSWORD)
    assert again.exit_code == 4
    assert "conflict" in again.stderr
    weak = invoke("users", "create", unique_email("cli"), "--password", "password1")
    assert weak.exit_code == 2
    assert "weak_password" in weak.stderr


def test_password_prompt_is_hidden_and_confirmed(cli_env):
    email = unique_email("cli")
    result = invoke("users", "create", email, "--json", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.stdout


def test_set_role_tier_and_disable(cli_env):
    email = unique_email("cli")
    user_id = create(email)["id"]
    assert "team_manager" in invoke("users", "set-role", email, "team_manager").stdout
    assert (
        json.loads(invoke("users", "set-tier", user_id, "team", "--json").stdout)["tier"] == "team"
    )
    assert "disabled" in invoke("users", "disable", email).stdout
    listed = json.loads(invoke("users", "list", "--json", "--limit", "10000").stdout)
    row = next(row for row in listed if row["email"] == email)
    assert row["disabled"] is True and row["role"] == "team_manager"
    assert "enabled" in invoke("users", "disable", email, "--enable").stdout


def test_unknown_user_and_bad_values_exit_with_codes(cli_env):
    missing = invoke("users", "show", str(uuid.uuid4()))
    assert missing.exit_code == 3
    assert "not_found" in missing.stderr
    assert invoke("users", "set-role", "nobody@example.com", "admin").exit_code == 3
    assert invoke("users", "set-tier", "x@example.com", "platinum").exit_code == 2  # Typer usage


def test_create_admin(cli_env):
    email = unique_email("admin")
    result = invoke("users", "create-admin", email, "--password", PASSWORD, "--json")
    assert result.exit_code == 0, result.output
    admin = json.loads(result.stdout)
    assert admin["role"] == "admin" and admin["email_verified"] is True


def test_mail_outbox_shows_the_verification_email(cli_env, settings):
    # registration through the real API path is covered in the API tests; here the
    # admin reads the outbox after a password-reset request made with the core
    from wellcoach.auth import service as auth
    from wellcoach.platform import run_with_platform

    email = unique_email("mail")
    create(email, "--verified")

    async def ask_reset(platform):
        async with platform.unit_of_work() as session:
            await auth.forgot_password(session, platform, email)

    run_with_platform(ask_reset)
    listed = json.loads(invoke("mail", "outbox", "--to", email, "--json").stdout)
    assert listed[0]["template"] == "reset_password"
    assert "token=" in listed[0]["body"]
    pretty = invoke("mail", "outbox", "--to", email)
    assert "Reset your wellcoach password" in pretty.stdout
    assert "the outbox is empty" in invoke("mail", "outbox", "--to", "nobody@x.org").stdout


class _SmtpSink:
    """A tiny SMTP server on loopback that records what it receives."""

    def __init__(self) -> None:
        import socket

        self.messages: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as reader:
                conn.sendall(b"220 sink\r\n")
                data_mode, buffer = False, []
                for line in reader:
                    if data_mode:
                        if line in (b".\r\n", b".\n"):
                            self.messages.append(b"".join(buffer))
                            data_mode, buffer = False, []
                            conn.sendall(b"250 queued\r\n")
                        else:
                            buffer.append(line)
                        continue
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        data_mode = True
                        conn.sendall(b"354 go\r\n")
                    elif verb == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        break
                    else:
                        conn.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def smtp_sink():
    sink = _SmtpSink()
    yield sink
    sink.close()


def test_mail_deliver_sends_pending_email_over_smtp(cli_env, monkeypatch, smtp_sink):
    from wellcoach.config import get_settings

    email = unique_email("smtp")
    create(email, "--verified")
    from wellcoach.auth import service as auth
    from wellcoach.platform import run_with_platform

    async def ask_reset(platform):
        async with platform.unit_of_work() as session:
            await auth.forgot_password(session, platform, email)

    run_with_platform(ask_reset)
    monkeypatch.setenv("WELLCOACH_SMTP_URL", f"smtp://127.0.0.1:{smtp_sink.port}")
    get_settings.cache_clear()
    result = invoke("mail", "deliver")
    assert result.exit_code == 0, result.output
    received = [message_from_bytes(raw) for raw in smtp_sink.messages]
    assert any(msg["To"] == email and "Reset" in msg["Subject"] for msg in received)
    status = json.loads(invoke("mail", "outbox", "--to", email, "--json").stdout)[0]["status"]
    assert status == "sent"


def test_rotate_jwt(cli_env):
    first = invoke("keys", "rotate-jwt")
    second = invoke("keys", "rotate-jwt")
    assert first.exit_code == second.exit_code == 0
    assert first.stdout != second.stdout


def test_mail_deliver_without_smtp_says_so(cli_env, monkeypatch):
    monkeypatch.delenv("WELLCOACH_SMTP_URL", raising=False)
    result = invoke("mail", "deliver")
    assert result.exit_code == 1
    assert "no SMTP server is configured" in result.output


def test_the_password_is_optional_on_the_command_line_and_asked_for_when_omitted(cli_env):
    help_text = invoke("users", "create", "--help").output
    password_line = next(line for line in help_text.splitlines() if "--password" in line)
    assert "required" not in password_line
    email = unique_email("prompted")
    result = invoke("users", "create", email, "--json", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout[result.stdout.index("{") :])["email"] == email


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--name", "Chi\x00ara"], "name"),
        (["--team", "Roma\x1f"], "team"),
        (["--sport", " "], "sport"),
        (["--language", "xx"], "language"),
    ],
)
def test_create_checks_the_profile_fields_on_input(cli_env, extra, field):
    """What sign-up refuses, an admin cannot slip in: one red line naming the field, exit
    code 2, no traceback, and nothing created."""
    email = unique_email("cli")
    result = invoke("users", "create", email, "--password", PASSWORD, *extra)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"[invalid_input] {field}:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert invoke("users", "show", email).exit_code == 3  # not found
