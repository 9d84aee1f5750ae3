"""Socket.IO helpers: a committed user, its tokens, a connected client, a recorder of
what the server pushes, the app's way of sending a message, what a refused connection
or an ended one looks like to the client, and short-lived access tokens."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import socketio

from tests.support.factories import PASSWORD, create_user
from wellcoach.auth.signing import Signer


async def committed_user(platform, verified: bool = True):
    async with platform.unit_of_work() as session:
        user = await create_user(session, platform, verified=verified)
        return user.id, user.email


async def tokens(url: str, email: str, password: str = PASSWORD, ip: str = "10.8.0.1") -> dict:
    async with httpx.AsyncClient(base_url=url, headers={"X-Forwarded-For": ip}) as http:
        response = await http.post("/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return response.json()


class Recorder:
    def __init__(self, client: socketio.AsyncClient) -> None:
        self.events: list[tuple[str, dict]] = []
        self.done = asyncio.Event()
        for name in ("typing", "reply_token", "reply_reset", "reply_done", "message_status"):
            client.on(name, self._handler(name), namespace="/chat")

    def _handler(self, name: str):
        async def handle(data: dict) -> None:
            self.events.append((name, data))
            if name == "reply_done":
                self.done.set()

        return handle

    def of(self, name: str) -> list[dict]:
        return [data for event, data in self.events if event == name]


async def connect(url: str, token: str | None) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace="/chat")
    try:
        await client.connect(
            url,
            namespaces=["/chat"],
            auth={"token": token} if token else None,
            transports=["websocket"],
            wait_timeout=10,
        )
    except socketio.exceptions.ConnectionError as exc:
        raise socketio.exceptions.ConnectionError(f"{exc} {errors}") from exc
    return client


async def new_session(url: str, access: str) -> str:
    """A chat session started over REST, as the app does before it connects."""
    async with httpx.AsyncClient(base_url=url) as http:
        created = await http.post(
            "/v1/chat/sessions", headers={"Authorization": f"Bearer {access}"}
        )
        return created.json()["id"]


async def send(client: socketio.AsyncClient, session_id: str, content: str) -> dict:
    """`send_message` with its ack, as the app sends it."""
    return await client.call(
        "send_message",
        {"session_id": session_id, "content": content},
        namespace="/chat",
        timeout=10,
    )


class Ending:
    """What a client sees when the server ends its connection: the `session_ended`
    payload, then the disconnect."""

    def __init__(self, client: socketio.AsyncClient) -> None:
        self.payloads: list[dict] = []
        self.disconnected = asyncio.Event()
        client.on("session_ended", self.payloads.append, namespace="/chat")
        client.on("disconnect", self._gone, namespace="/chat")

    def _gone(self, *reason: Any) -> None:
        self.disconnected.set()

    async def wait(self, seconds: float = 10.0) -> dict:
        """The error the connection was ended with (`{"code", "message"}`)."""
        await asyncio.wait_for(self.disconnected.wait(), seconds)
        assert self.payloads, "disconnected without a session_ended event"
        return self.payloads[0]["error"]


async def refused(url: str, token: str | None, namespace: str = "/chat") -> dict:
    """The data of the `connect_error` a refused connection gets (`{"message", "data"}`)."""
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace=namespace)
    try:
        await client.connect(
            url,
            namespaces=[namespace],
            auth={"token": token} if token else None,
            transports=["websocket"],
            wait_timeout=10,
        )
    except socketio.exceptions.ConnectionError:
        pass
    else:
        await client.disconnect()
        raise AssertionError(f"the connection to {namespace} was accepted")
    assert errors, "refused without a connect_error"
    return errors[0]


async def short_lived_token(
    platform, user_id: uuid.UUID, seconds: int, session_epoch: int = 0
) -> str:
    """An access token that expires after `seconds`, signed with the platform's keys."""
    settings = platform.settings.auth.model_copy(update={"access_ttl_seconds": seconds})
    signer = Signer(settings, platform.vault.keyring, platform.database.sessions)
    token, _ = await signer.issue_access(user_id, "athlete", "free", session_epoch)
    return token
