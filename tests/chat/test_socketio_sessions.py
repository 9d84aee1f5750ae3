"""A Socket.IO connection lives only as long as its session: it ends when the token
expires, when the account's sessions are revoked (password change or reset, disabled
account, sign-out, a reused refresh token), and every event is checked first. The real
python-socketio client against the live server."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import socketio
from sqlalchemy import update

from api import realtime
from tests.support.factories import PASSWORD, last_email, token_in
from tests.support.realtime import (
    Ending,
    Recorder,
    committed_user,
    connect,
    new_session,
    refused,
    send,
    short_lived_token,
    tokens,
)
from wellcoach.audit import RequestContext
from wellcoach.auth import admin
from wellcoach.db.base import utcnow
from wellcoach.models import User

NEW_PASSWORD = "a brand new passphrase 7"
ADMIN = RequestContext(source="test")


def api(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, headers={"X-Forwarded-For": "10.9.0.1"}, timeout=10)


def bearer(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


async def typing(client: socketio.AsyncClient) -> dict:
    return await client.call(
        "typing", {"session_id": str(uuid.uuid4()), "typing": True}, namespace="/chat", timeout=5
    )


async def emailed(platform, to: str, template: str, seconds: float = 10.0):
    """The email once the request that queued it has committed (FastAPI answers before
    the session dependency commits)."""
    for _ in range(int(seconds / 0.05)):
        async with platform.unit_of_work() as session:
            try:
                return await last_email(session, to, template)
            except AssertionError:
                pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {template} email to {to}")


async def close(*clients: socketio.AsyncClient) -> None:
    for client in clients:
        await client.disconnect()


async def test_a_password_change_ends_every_socket_of_the_account_a_stolen_one_too(
    live_server, platform
):
    _, email = await committed_user(platform)
    victim = await tokens(live_server, email)
    session_id = await new_session(live_server, victim["access_token"])
    phone = await connect(live_server, victim["access_token"])
    thief = await connect(live_server, victim["access_token"])  # a copy of the same token
    phone_ended, thief_ended = Ending(phone), Ending(thief)
    stolen = Recorder(thief)
    renewed = None
    try:
        assert await typing(thief) == {"ok": True}

        async with api(live_server) as http:
            changed = await http.post(
                "/v1/auth/password/change",
                headers=bearer(victim["access_token"]),
                json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            )
        assert changed.status_code == 200, changed.text
        assert (await thief_ended.wait())["code"] == "invalid_token"
        assert (await phone_ended.wait())["code"] == "invalid_token"
        with pytest.raises(socketio.exceptions.BadNamespaceError):
            await typing(thief)  # nothing more goes through that socket
        again = await refused(live_server, victim["access_token"])
        assert again["data"]["error"]["code"] == "invalid_token"

        # the victim reconnects with the new token; the thief receives none of it
        renewed = await connect(live_server, changed.json()["access_token"])
        mine = Recorder(renewed)
        ack = await send(renewed, session_id, "I could not sleep before the final")
        assert ack["ok"]
        await asyncio.wait_for(mine.done.wait(), 30)
    finally:
        await close(phone, thief, *([renewed] if renewed else []))
    assert stolen.events == []


async def test_a_password_reset_ends_the_sockets(live_server, platform):
    _, email = await committed_user(platform)
    access = (await tokens(live_server, email))["access_token"]
    client = await connect(live_server, access)
    ended = Ending(client)
    try:
        async with api(live_server) as http:
            forgot = await http.post("/v1/auth/password/forgot", json={"email": email})
            assert forgot.status_code == 202
            mail = await emailed(platform, email, "reset_password")
            reset = await http.post(
                "/v1/auth/password/reset",
                json={"token": token_in(mail), "new_password": NEW_PASSWORD},
            )
            assert reset.status_code == 200, reset.text
        assert (await ended.wait())["code"] == "invalid_token"
    finally:
        await close(client)


async def test_disabling_an_account_ends_its_sockets(live_server, platform):
    """`wellcoach users disable` runs this core function; the socket ends on commit."""
    _, email = await committed_user(platform)
    access = (await tokens(live_server, email))["access_token"]
    client = await connect(live_server, access)
    ended = Ending(client)
    try:
        async with platform.unit_of_work() as session:
            user = await admin.find_user(session, email)
            await admin.set_disabled(session, user, True, ADMIN)
        assert await ended.wait() == {
            "code": "account_disabled",
            "message": "This account is disabled.",
        }
        refusal = await refused(live_server, access)
        assert refusal["data"]["error"]["code"] == "account_disabled"
    finally:
        await close(client)


async def test_a_revocation_that_rolls_back_ends_nothing(live_server, platform):
    _, kept_email = await committed_user(platform)
    _, marker_email = await committed_user(platform)
    kept = await connect(live_server, (await tokens(live_server, kept_email))["access_token"])
    marker = await connect(live_server, (await tokens(live_server, marker_email))["access_token"])
    marker_ended = Ending(marker)
    try:
        with pytest.raises(RuntimeError):
            async with platform.unit_of_work() as session:
                user = await admin.find_user(session, kept_email)
                await admin.set_disabled(session, user, True, ADMIN)
                raise RuntimeError("the transaction fails after the revocation")
        # announcements arrive in commit order: once the marker's has, the other never will
        async with platform.unit_of_work() as session:
            user = await admin.find_user(session, marker_email)
            await admin.set_disabled(session, user, True, ADMIN)
        await marker_ended.wait()
        assert await typing(kept) == {"ok": True}
    finally:
        await close(kept, marker)


async def test_a_reused_refresh_token_ends_the_sockets_of_that_login_only(live_server, platform):
    _, email = await committed_user(platform)
    first, second = await tokens(live_server, email), await tokens(live_server, email)
    stolen_login = await connect(live_server, first["access_token"])
    other_login = await connect(live_server, second["access_token"])
    stolen_ended, other_ended = Ending(stolen_login), Ending(other_login)
    try:
        async with api(live_server) as http:
            rotated = await http.post(
                "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
            )
            assert rotated.status_code == 200
            reuse = await http.post(
                "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
            )
            assert reuse.json()["error"]["code"] == "token_reused"
        assert (await stolen_ended.wait())["code"] == "invalid_token"
        assert await typing(other_login) == {"ok": True}  # another login of the same user
        # the revoked login's access tokens, unexpired, cannot open a socket again
        for access in (first["access_token"], rotated.json()["access_token"]):
            assert (await refused(live_server, access))["data"]["error"]["code"] == "invalid_token"

        async with api(live_server) as http:
            out = await http.post(
                "/v1/auth/logout",
                headers=bearer(second["access_token"]),
                json={"refresh_token": second["refresh_token"]},
            )
            assert out.status_code == 204
        assert (await other_ended.wait())["code"] == "invalid_token"
    finally:
        await close(stolen_login, other_login)


@pytest.mark.parametrize(
    ("column", "code"),
    [
        ("deleted_at", "invalid_token"),
        ("disabled_at", "account_disabled"),
        ("epoch", "invalid_token"),
    ],
)
async def test_every_event_is_checked_against_the_account(
    live_server, platform, monkeypatch, column, code
):
    """A change nobody announced (here an UPDATE straight in the database) is still seen
    by the next event once the cached state is older than STATE_TTL_SECONDS (0 here)."""
    monkeypatch.setattr(realtime, "STATE_TTL_SECONDS", 0.0)
    user_id, email = await committed_user(platform)
    client = await connect(live_server, (await tokens(live_server, email))["access_token"])
    ended = Ending(client)
    try:
        assert await typing(client) == {"ok": True}
        change = (
            {"session_epoch": User.session_epoch + 1} if column == "epoch" else {column: utcnow()}
        )
        async with platform.unit_of_work() as session:
            await session.execute(update(User).where(User.id == user_id).values(**change))
        answer = await typing(client)
        assert answer["error"]["code"] == code
        assert (await ended.wait())["code"] == code
    finally:
        await close(client)


async def test_an_expired_token_ends_the_socket_with_token_expired(live_server, platform):
    user_id, _ = await committed_user(platform)
    client = await connect(live_server, await short_lived_token(platform, user_id, 3))
    ended = Ending(client)
    try:
        assert await typing(client) == {"ok": True}
        assert (await ended.wait(15))["code"] == "token_expired"
        with pytest.raises(socketio.exceptions.BadNamespaceError):
            await typing(client)
    finally:
        await close(client)


async def test_a_fresh_token_keeps_the_socket_open_past_the_old_expiry(live_server, platform):
    user_id, email = await committed_user(platform)
    _, other_email = await committed_user(platform)
    client = await connect(live_server, await short_lived_token(platform, user_id, 3))
    ended = Ending(client)
    try:
        foreign = (await tokens(live_server, other_email))["access_token"]
        wrong = await client.call("authenticate", {"token": foreign}, namespace="/chat", timeout=5)
        assert wrong["error"]["code"] == "invalid_token"
        fresh = (await tokens(live_server, email))["access_token"]
        ack = await client.call("authenticate", {"token": fresh}, namespace="/chat", timeout=5)
        assert ack["ok"] and ack["expires_in"] > 600
        await asyncio.sleep(4)  # past the first token's expiry
        assert await typing(client) == {"ok": True}
        assert not ended.disconnected.is_set()
    finally:
        await close(client)


async def test_a_refused_connection_carries_the_error_object(live_server, platform):
    """`err.message` is the message in plain words, `err.data` the documented object."""
    bad = await refused(live_server, "not-a-token")
    assert bad["data"]["error"]["code"] == "invalid_token"
    assert bad["message"] == bad["data"]["error"]["message"]
    assert not bad["message"].startswith("{")
    missing = await refused(live_server, None)
    assert missing["data"]["error"]["code"] == "invalid_token"
    _, email = await committed_user(platform, verified=False)
    unverified = await refused(live_server, (await tokens(live_server, email))["access_token"])
    assert unverified["data"]["error"]["code"] == "email_not_verified"


async def test_the_default_namespace_and_unknown_ones_are_refused(live_server, platform):
    _, email = await committed_user(platform)
    access = (await tokens(live_server, email))["access_token"]
    for namespace in ("/", "/admin"):
        refusal = await refused(live_server, access, namespace)
        assert refusal == {
            "message": "Connect to the namespace /chat.",
            "data": {
                "error": {"code": "unknown_namespace", "message": "Connect to the namespace /chat."}
            },
        }
